#!/usr/bin/perl
# An app for rolling promotions under load (tests/e2e/rolling.t): answers
# every request with its greeting and pid, reads the whole request head
# first (so closing never resets an answer), finishes the request in hand on
# SIGTERM, and says "drained" when it goes. With FAIL_HEALTH set its health
# check never passes, and it says why in its log.
use strict;
use warnings;
use IO::Socket::INET;

my $stop = 0;
$SIG{TERM} = sub { $stop = 1 };
$| = 1;
my $greeting = $ENV{GREETING} // "hello";
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ENV{PORT}, Listen => 128,
    ReuseAddr => 1, Timeout => 0.2) or die "listen: $!\n";
print "listening on $ENV{PORT}", ($ENV{FAIL_HEALTH} ? " (FAIL_HEALTH: /health will refuse)" : ""),
    "\n";
while (!$stop) {
    my $c = $s->accept or next;
    $c->timeout(5);
    my $line = <$c> // "";
    while (my $h = <$c>) {
        last if $h =~ /^\r?\n$/;
    }
    my ($status, $body) = (200, "$greeting from $$\n");
    if ($line =~ m{^GET /health} && $ENV{FAIL_HEALTH}) {
        ($status, $body) = (500, "unhealthy\n");
        print "health check refused: FAIL_HEALTH is set\n";
    }
    print $c "HTTP/1.1 $status X\r\nContent-Length: " . length($body) .
        "\r\nConnection: close\r\n\r\n$body";
    close $c;
}
print "drained\n";
exit 0;
