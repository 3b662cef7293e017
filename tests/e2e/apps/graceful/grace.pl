#!/usr/bin/perl
# An app that needs its termination grace: on SIGTERM it takes a second to
# finish, then says so in its log. A platform that SIGKILLs it early gets no
# such line.
use strict;
use warnings;
use IO::Socket::INET;

my $stop = 0;
$SIG{TERM} = sub { $stop = 1 };
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ENV{PORT}, Listen => 16,
    ReuseAddr => 1, Timeout => 0.2) or die "listen: $!\n";
while (!$stop) {
    my $c = $s->accept or next;
    <$c>;
    print $c "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    close $c;
}
select(undef, undef, undef, 1.0);    # finishing in-flight work
$| = 1;
print "drained\n";
exit 0;
