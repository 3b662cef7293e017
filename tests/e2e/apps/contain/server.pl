#!/usr/bin/perl
# A small HTTP service for the cx examples: it says who it is, echoes the
# request headers, and can call another URL (to show one service reaching
# another). Uses only Perl's core modules, so it runs anywhere Debian does.
use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(inet_ntoa);

my $port = $ENV{PORT} || 3000;
my $who = sprintf("%s/%s (process %s, release %s, rack %s)", $ENV{APP} || "app",
    $ENV{SERVICE} || "web", $ENV{HOSTNAME} || "-", $ENV{RELEASE} || "-", $ENV{RACK} || "-");
my $greeting = $ENV{GREETING} || "hello";

$SIG{CHLD} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };

my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $port,
    Listen => 128, ReuseAddr => 1) or die "cannot listen on port $port: $!\n";
print "listening on port $port as $who\n";
$| = 1;

# A GET of http://HOST[:PORT]/PATH with a 3 s timeout; returns (status line, body).
sub fetch {
    my ($url) = @_;
    my ($host, $p, $path) = $url =~ m{^http://([^/:]+)(?::(\d+))?(/.*)?$}
        or return ("400 bad url", "use http://host[:port]/path\n");
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $p || 80, Timeout => 3)
        or return ("502 cannot connect", "cannot connect to $host: $!\n");
    $path ||= "/";
    print $s "GET $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n";
    my $resp = do { local $/; <$s> } // "";
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // "") =~ m{^HTTP/1\.\d (\d+)};
    return (($status // "502") . " from $host", $body // "");
}

sub handle {
    my ($c) = @_;
    while (1) {
        my $line = <$c>;
        last unless defined $line;
        my ($method, $target) = $line =~ m{^(\S+) (\S+) HTTP/1\.\d\r?\n$} or last;
        my (%h, @raw);
        while (my $hl = <$c>) {
            last if $hl =~ /^\r?\n$/;
            push @raw, $hl;
            $h{lc $1} = $2 if $hl =~ /^([^:]+):\s*(.*?)\r?\n$/;
        }
        my $len = $h{'content-length'} || 0;
        read($c, my $discard, $len) if $len > 0;
        my ($status, $body) = ("200 OK", "");
        if ($target eq "/health") {
            $body = "ok\n";
        } elsif ($target eq "/headers") {
            $body = join("", @raw);
        } elsif ($target =~ m{^/call\?url=(.*)$}) {
            my $url = $1;
            $url =~ s/%([0-9a-fA-F]{2})/chr(hex($1))/ge;
            my ($st, $b) = fetch($url);
            $body = "$who called $url: $st\n$b";
        } else {
            my $from = $h{'x-forwarded-for'} || inet_ntoa($c->peeraddr);
            $body = "$greeting from $who, asked by $from\n";
        }
        print $c "HTTP/1.1 $status\r\nContent-Type: text/plain\r\nContent-Length: "
            . length($body) . "\r\n\r\n$body";
        last if ($h{connection} // "") =~ /close/i;
    }
    close $c;
}

while (1) {
    my $c = $server->accept or next;
    my $pid = fork;
    if (defined $pid && $pid == 0) {
        close $server;
        handle($c);
        exit 0;
    }
    close $c;
}
