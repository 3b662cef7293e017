# A process that leaves a child behind in a session of its own (setsid), as
# a daemonising program does; with IGNORE_TERM both ignore SIGTERM, with
# CHILD_IGNORES_TERM only the child (the app's process leaves it behind). Each
# says who it is on its output (the app's log).
use strict;
use warnings;
use POSIX ();

$SIG{TERM} = 'IGNORE' if $ENV{IGNORE_TERM};
$| = 1;
my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0) {
	$SIG{TERM} = 'IGNORE' if $ENV{CHILD_IGNORES_TERM};
	my $sid = POSIX::setsid();
	die "setsid: $!" unless defined $sid && $sid > 0;
	print "child $$ in session $sid\n";
	sleep 1 while 1;
}
print "parent $$ forked $pid\n";
sleep 1 while 1;
