# A fork bomb: every process forks as fast as it can; when fork fails it
# says so once, then waits a moment and tries again. Run under timeout.
use strict;
use warnings;

$| = 1;
my $said = 0;
while (1) {
	my $pid = fork;
	if (!defined $pid) {
		print "fork failed: $!\n" unless $said++;
		select(undef, undef, undef, 0.2);
	}
}
