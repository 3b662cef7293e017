# Takes ever more memory (16 MB a step, touched), past any scale.memory.
use strict;
use warnings;

$| = 1;
my @hold;
for my $i (1 .. 256) {
	push @hold, "x" x (16 << 20);
	print "holding ", 16 * $i, " MB\n";
	select(undef, undef, undef, 0.02);
}
print "still alive with 4 GB\n";
sleep 1 while 1;
