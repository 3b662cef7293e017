#!/usr/bin/env bash
# cli.t — what `cx` decides on its own, before (or without) a rack daemon:
# help, usage errors, suggestions for typos, rack and app selection, and the
# checks it makes locally. Needs no daemon; the deploy tests cover the rest.
#
# Uses $CX_BIN (default: the repository's bin/) and lib.sh's temporary
# $TMP and $CX_HOME.
. "$(dirname "$0")/lib.sh"
CX=$BIN/cx
T=$TMP
unset CX_RACKD

# run CMD...: sets rc, out (stdout) and err (stderr)
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# expect_err DESC STDERR CMD...: exits 1 with exactly this one line on stderr
expect_err() {
	desc=$1 want=$2; shift 2
	run "$@"
	[ "$rc" -eq 1 ] && [ "$err" = "$want" ]
	ok $? "$desc" "rc=$rc" "stderr: $err" "want:   $want"
}

# expect_out DESC STDOUT CMD...: exits 0 with exactly this on stdout, nothing on stderr
expect_out() {
	desc=$1 want=$2; shift 2
	run "$@"
	[ "$rc" -eq 0 ] && [ "$out" = "$want" ] && [ -z "$err" ]
	ok $? "$desc" "rc=$rc" "stdout: $out" "want:   $want" "stderr: $err"
}

# expect_grep DESC PATTERN CMD...: exits 0 and stdout has a line matching PATTERN
expect_grep() {
	desc=$1 pat=$2; shift 2
	run "$@"
	[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q -- "$pat" && [ -z "$err" ]
	ok $? "$desc" "rc=$rc" "stdout: $(printf '%s' "$out" | head -3)" "want a line like: $pat" \
		"stderr: $err"
}

if [ ! -x "$CX" ]; then
	echo "1..0 # SKIP $CX not built"
	exit 0
fi

# --- help ---
expect_grep "cx alone prints help" '^  deploy \[DIR\] ' "$CX"
expect_grep "cx help lists commands" '^  rack params set KEY=VALUE\.\.\. ' "$CX" help
expect_grep "cx --help is help" '^Usage: cx COMMAND' "$CX" --help
expect_grep "cx deploy --help shows its usage" '^Usage: cx deploy \[DIR\] \[flags\]$' "$CX" deploy --help
expect_grep "cx help deploy is the same" '^  -d, --description TEXT' "$CX" help deploy
expect_grep "help of a subcommand" '^Usage: cx rack params set KEY=VALUE\.\.\. \[flags\]$' \
	"$CX" rack params set --help
expect_grep "cx help scale says where cx differs from Convox" \
	'^Where cx differs from Convox, on purpose:$' "$CX" help scale
expect_grep "the man page says it too" '^Where cx differs from Convox: Convox also takes' "$CX" man
expect_grep "-h works after arguments" '^Usage: cx apps create \[APP\]' "$CX" apps create foo -h
expect_grep "cx version prints the client's version" '^client: cx-' "$CX" version

# --- typos ---
expect_err "unknown command suggests the closest" \
	'ERROR: unknown command "depoy"; did you mean "deploy"?' "$CX" depoy
expect_err "unknown subcommand suggests the closest" \
	'ERROR: unknown command "rack paramz"; did you mean "rack params"?' "$CX" rack paramz
expect_err "unknown nested subcommand" \
	'ERROR: unknown command "rack params sett"; did you mean "rack params set"?' \
	"$CX" rack params sett a=b
expect_err "nothing close: points at help" \
	'ERROR: unknown command "zzzzzzzzzz" (cx help lists the commands)' "$CX" zzzzzzzzzz
expect_err "cx help of an unknown command" \
	'ERROR: unknown command "depoy"; did you mean "deploy"?' "$CX" help depoy
expect_err "unknown flag suggests the closest" \
	'ERROR: unknown flag "--jsn"; did you mean "--json"?' "$CX" apps --jsn
expect_err "a flag the command does not take" \
	'ERROR: flag --vpc does not apply to "cx apps" (cx apps --help lists its flags)' \
	"$CX" apps --vpc 10.1.0.0/16
expect_err "a flag without its value" \
	'ERROR: flag --app needs a value (APP)' "$CX" ps -a
expect_err "a boolean flag with a value" \
	'ERROR: flag --json takes no value' "$CX" apps --json=yes

# --- argument counts ---
expect_err "too many arguments" \
	'ERROR: too many arguments; usage: cx apps create [APP] [flags]' "$CX" apps create a b
expect_err "missing arguments" \
	'ERROR: missing arguments; usage: cx apps delete APP [flags]' "$CX" apps delete
expect_err "run needs a service" \
	'ERROR: missing arguments; usage: cx run SERVICE [COMMAND...] [flags]' "$CX" run
expect_err "net exec needs a place and a command" \
	'ERROR: missing arguments; usage: cx net exec WHERE [--] COMMAND...' "$CX" net exec internet

# --- no rack ---
expect_err "cx rack with no rack installed" \
	"ERROR: no rack installed in $CX_HOME; install one with: cx rack install local NAME" "$CX" rack
expect_err "cx apps with no rack installed" \
	"ERROR: no rack installed in $CX_HOME; install one with: cx rack install local NAME" "$CX" apps
expect_err "-r names a rack that does not exist" \
	'ERROR: no such rack: nope (cx racks lists them)' "$CX" rack -r nope
expect_err "CX_RACK names a rack that does not exist" \
	'ERROR: no such rack: nope (cx racks lists them)' env CX_RACK=nope "$CX" apps
expect_err "switch to a rack that does not exist" \
	'ERROR: no such rack: nope (cx racks lists them)' "$CX" switch nope
expect_err "uninstall a rack that does not exist" \
	'ERROR: no such rack: nope (cx racks lists them)' "$CX" rack uninstall nope
expect_err "start a rack that does not exist" \
	'ERROR: no such rack: nope (cx racks lists them)' "$CX" rack start nope
expect_out "cx racks with none" 'NAME  PROVIDER  STATUS  LOCATION' "$CX" racks
expect_out "cx racks --json with none" '[]' "$CX" racks --json

# --- a rack whose daemon is not running ---
mkdir -p "$CX_HOME/racks/r1"
echo secret >"$CX_HOME/racks/r1/password"
chmod 600 "$CX_HOME/racks/r1/password"
expect_err "the only rack is used, and it is not running" \
	'ERROR: rack r1 is not running; start it with: cx rack start r1' "$CX" rack
expect_err "-r picks the rack" \
	'ERROR: rack r1 is not running; start it with: cx rack start r1' "$CX" apps -r r1
expect_err "flags may come before the command" \
	'ERROR: rack r1 is not running; start it with: cx rack start r1' "$CX" -r r1 apps
expect_err "a stale socket file is not running either" \
	'ERROR: rack r1 is not running; start it with: cx rack start r1' \
	sh -c "touch '$CX_HOME/racks/r1/api.sock' && exec '$CX' rack"
rm -f "$CX_HOME/racks/r1/api.sock"
expect_out "cx racks shows it stopped" "$(printf 'NAME  PROVIDER  STATUS   LOCATION\nr1    local     stopped  local')" \
	"$CX" racks
expect_out "cx racks --json" '[{"name":"r1","provider":"local","status":"stopped","location":"local"}]' \
	"$CX" racks --json
expect_err "install refuses a rack that exists" \
	'ERROR: rack r1 already exists (cx rack uninstall r1 removes it)' "$CX" rack install local r1

mkdir -p "$CX_HOME/racks/r2"
expect_err "with two racks and no choice, cx asks for one" \
	'ERROR: no rack selected among 2 racks; choose one with -r NAME, $CX_RACK or cx switch NAME (cx racks lists them)' \
	"$CX" apps
expect_out "cx switch" 'Switched to r2' "$CX" switch r2
expect_err "the switched-to rack is used" \
	'ERROR: rack r2 is not running; start it with: cx rack start r2' "$CX" apps
expect_err "CX_RACK beats cx switch" \
	'ERROR: rack r1 is not running; start it with: cx rack start r1' env CX_RACK=r1 "$CX" apps
expect_err "-r beats CX_RACK" \
	'ERROR: rack r2 is not running; start it with: cx rack start r2' env CX_RACK=r1 "$CX" apps -r r2
expect_err "a relative CX_HOME works from elsewhere" \
	'ERROR: rack r1 is not running; start it with: cx rack start r1' \
	sh -c "cd '$T' && CX_HOME=home exec '$CX' apps -r r1"

long="$T/$(printf '%0100d' 0)"
mkdir -p "$long/racks/r1"
echo secret >"$long/racks/r1/password"
run env CX_HOME="$long" "$CX" rack
case "$rc:$err" in
"1:ERROR: socket path too long for a unix socket ("*"use a shorter CX_HOME") st=0 ;;
*) st=1 ;;
esac
ok $st "a socket path too long is named" "rc=$rc" "stderr: $err"

# --- checks made before talking to a rack ---
expect_err "invalid rack name" \
	'ERROR: invalid rack name "Bad_Name": use lower-case letters, digits and dashes, starting with a letter, at most 30 characters' \
	"$CX" rack install local Bad_Name
expect_err "unknown provider" \
	'ERROR: unknown provider "aws": cx installs local racks (cx rack install local NAME) and Kubernetes racks (cx rack install kubernetes NAME kubeconfig=FILE)' \
	"$CX" rack install aws x
expect_err "invalid CIDR" \
	'ERROR: invalid CIDR "10.1.0.1/16": give a network and a prefix length with the host bits zero, like 10.1.0.0/16' \
	"$CX" rack install local x --vpc 10.1.0.1/16
if [ "$(id -u)" -eq 0 ]; then
	# As the unprivileged user, with its own copy of cx and its own home:
	# it can reach neither this checkout nor $TMP (see lib.sh).
	nobody_setup || { echo "Bail out! cannot set up the unprivileged user's directory"; exit 1; }
	expect_err "a VPC rack without root is refused in one line" \
		'ERROR: VPC racks need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run as root or install without --vpc' \
		as_nobody cx rack install local v1 --vpc 10.1.0.0/16
	vhome=$NOBODY/home
else
	expect_err "a VPC rack without root is refused in one line" \
		'ERROR: VPC racks need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run as root or install without --vpc' \
		"$CX" rack install local v1 --vpc 10.1.0.0/16
	vhome=$CX_HOME
fi
[ ! -e "$vhome/racks/v1" ]; ok $? "nothing is left of a refused install"
expect_err "malformed rack param" \
	'ERROR: malformed parameter "internal_router": use KEY=VALUE with a lower-case KEY (cx rack params lists them)' \
	"$CX" rack params set internal_router
expect_err "malformed env var" \
	'ERROR: malformed variable "1FOO=x": use KEY=VALUE, KEY made of letters, digits and underscores' \
	"$CX" env set 1FOO=x -a app1
expect_err "invalid app name" \
	'ERROR: invalid app name "App_1": use lower-case letters, digits and dashes, starting with a letter, at most 30 characters' \
	"$CX" ps -a App_1
mkdir -p "$T/Not_An_App"
expect_err "the current directory's name is not an app name" \
	'ERROR: no app given and the current directory'"'"'s name "Not_An_App" is not an app name; use -a APP' \
	sh -c "cd '$T/Not_An_App' && exec '$CX' ps"
expect_err "invalid count" \
	'ERROR: invalid count "many": give a whole number from 0 to 100' "$CX" scale web --count many -a app1
expect_err "scale --count needs a service" \
	'ERROR: which service? usage: cx scale SERVICE --count N' "$CX" scale --count 2 -a app1
expect_err "services restart needs a service" \
	'ERROR: missing arguments; usage: cx services restart SERVICE [flags]' "$CX" services restart -a app1
expect_err "apps export needs a file" \
	'ERROR: where to? cx apps export app1 -f FILE' "$CX" apps export app1
expect_err "apps import needs a file" \
	'ERROR: from where? cx apps import app1 -f FILE' "$CX" apps import -a app1
expect_err "apps import of a file that is not there" \
	"ERROR: cannot read $T/none.tgz: No such file or directory" "$CX" apps import app1 -f "$T/none.tgz"
expect_err "invalid --since" \
	'ERROR: invalid duration "10x": use a number and a unit, like 30s, 10m, 2h or 1d' \
	"$CX" logs --since 10x -a app1
mkdir -p "$T/app1"
expect_err "deploy without convox.yml" \
	"ERROR: no convox.yml in $T/app1 (or name one with --manifest FILE)" "$CX" deploy "$T/app1" -a app1
expect_err "deploy with a manifest that does not exist" \
	"ERROR: no such manifest: $T/nope.yml" "$CX" deploy "$T/app1" -m "$T/nope.yml" -a app1
expect_err "deploy of a directory that does not exist" \
	"ERROR: no such directory: $T/nope" "$CX" deploy "$T/nope" -a app1
expect_err "deploy with no convox.yml in the current directory" \
	'ERROR: no convox.yml in . (or name one with --manifest FILE)' sh -c "cd '$T/app1' && exec '$CX' deploy"
expect_err "net exec to a rack that does not exist" \
	'ERROR: no such place: nope (use internet or a VPC rack'"'"'s name; cx net lists them)' \
	"$CX" net exec nope -- true
# Racks that are not both lab racks peer over TLS, through their APIs.
expect_err "peering a rack that is not running" \
	'ERROR: rack r1 is not running; start it with: cx rack start r1' "$CX" rack peer r1 r2

# --- a failed install leaves nothing behind ---
expect_err "install with no daemon to run" \
	"ERROR: cannot run the rack daemon $T/none: No such file or directory (set CX_RACKD to its path)" \
	env CX_RACKD="$T/none" "$CX" rack install local f1
[ ! -e "$CX_HOME/racks/f1" ]; ok $? "no rack left after a failed install"
printf '#!/bin/sh\necho "cx-rackd: something irrelevant" >&2\necho "cannot listen on the socket: boom" >&2\nexit 1\n' >"$T/bad-rackd"
chmod +x "$T/bad-rackd"
expect_err "install says why the daemon did not start" \
	'ERROR: cannot listen on the socket: boom' env CX_RACKD="$T/bad-rackd" "$CX" rack install local f2
[ ! -e "$CX_HOME/racks/f2" ]; ok $? "no rack left after a daemon failed"
expect_err "install with a daemon that exits silently" \
	'ERROR: the rack daemon exited during start-up' env CX_RACKD=/bin/false "$CX" rack install local f3

# --- completion and the man page, made from the command table ---
"$CX" completion bash >"$T/cx.bash"; ok $? "completion bash"
complete_bash() {	# complete_bash WORD...: what bash completes the last word to
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _cx
		echo "${COMPREPLY[*]}"' _ "$T/cx.bash" "$@"
}
is "$(complete_bash cx env se)" "set" "bash completes a command's next word (cx env se -> set)"
is "$(complete_bash cx -a shop env '')" "get set edit unset" "...skipping flags and their values"
is "$(complete_bash cx rack p)" "params ps peer peers" "...each once"
is "$(complete_bash cx env set --pr)" "--promote" "...and a command's own flags"
is "$(complete_bash cx login h -p)" "-p" "...-p where login takes it (--password)"
expect_err "a completion for an unknown shell" \
	'ERROR: no completion for shell "fish": give bash or zsh' "$CX" completion fish
if command -v zsh >/dev/null; then
	mkdir -p "$T/zfunc" && "$CX" completion zsh >"$T/zfunc/_cx"
	# A real interactive zsh on a pseudo-terminal: type "cx env se" and TAB.
	out=$(PATH="$BIN:$PATH" timeout 20 zsh -f -c '
		zmodload zsh/zpty
		zpty -b z "env PS1=\"> \" TERM=dumb zsh -f -i"
		zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u; cx() { :; }"
		zpty -w -n z $'"'"'cx env se\t'"'"'
		sleep 1
		zpty -w -n z $'"'"'\n'"'"'
		sleep 0.5
		while zpty -r -t z line; do print -r -- "$line"; done
		zpty -d z' _ "$T/zfunc" 2>&1 | tr -d '\r')
	like "$out" "cx env set " "zsh completes cx env se to cx env set" "$out"
else
	ok 1 "zsh is installed (make deps installs it)"
fi
"$CX" man >"$T/cx.1"; ok $? "man"
warn=$(groff -man -Tutf8 -ww -z "$T/cx.1" 2>&1)
is "$warn" "" "cx(1) is roff that groff reads without a warning"
page=$(nroff -man -rLL=100n "$T/cx.1" 2>/dev/null | sed 's/.\x08//g')
like "$page" "cx env set \[KEY=VALUE\.\.\.\]" "cx(1) lists each command with its arguments"
like "$page" "-p, --promote" "...and each flag"
n_cmds=$("$CX" help | sed -n '/^Commands:/,/^$/p' | grep -c '^  [a-z]')
n_page=$(printf '%s\n' "$page" | grep -Ec '^ {7}cx [a-z]')
is "$n_page" "$n_cmds" "cx(1) has every command cx help lists ($n_cmds)"
san=0; case "$BIN" in */build-asan/bin) san=1 ;; esac
out=$(make -s -C "$ROOT" SAN=$san install DESTDIR="$T/dest" PREFIX=/usr 2>&1); ok $? "make install DESTDIR PREFIX" "$out"
for f in bin/cx bin/cx-rackd bin/cx-router bin/cx-labdns share/man/man1/cx.1 \
    share/bash-completion/completions/cx share/zsh/vendor-completions/_cx; do
	[ -s "$T/dest/usr/$f" ]; ok $? "make install writes /usr/$f"
done
cmp -s "$T/dest/usr/share/man/man1/cx.1" "$T/cx.1"; ok $? "...the man page cx man prints"

done_testing
