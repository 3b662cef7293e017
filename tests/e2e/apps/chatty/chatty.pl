#!/usr/bin/perl
# An app that writes as much log as it is asked to (logs.t): GET
# /say?burst=NAME&n=COUNT prints COUNT numbered lines "NAME line 000001 x..."
# to stdout, pausing 50 ms every 1000 lines, then answers "said COUNT".
use strict;
use warnings;
use IO::Socket::INET;

$| = 1;
$SIG{TERM} = sub { exit 0 };
my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ENV{PORT} || 3000,
    Listen => 16, ReuseAddr => 1) or die "cannot listen: $!\n";
print "chatty listening\n";
while (my $c = $server->accept) {
    my $line = <$c> // "";
    while (my $h = <$c>) { last if $h =~ /^\r?\n$/; }
    my $body = "ok\n";
    if ($line =~ m{^GET /say\?burst=(\w+)&n=(\d+) }) {
        my ($burst, $n) = ($1, $2);
        for my $i (1 .. $n) {
            printf "%s line %06d %s\n", $burst, $i, "x" x 40;
            select(undef, undef, undef, 0.05) if $i % 1000 == 0;
        }
        $body = "said $n\n";
    }
    print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    close $c;
}
