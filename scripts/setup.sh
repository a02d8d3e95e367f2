#!/usr/bin/env bash
# Installs what a fresh machine lacks for the project's commands, one step at a time, each step
# idempotent and printing one line:
#
#   scripts/setup.sh STEP...      steps: toolchain venv browser fonts fuzz model postgres
#
#   toolchain  the toolchain rust-toolchain.toml pins, with its components and targets
#              (wasm32-wasip2). rustup installs a pinned toolchain that is missing with the
#              components and targets the file lists, but it never adds a listed target to a
#              toolchain that is already installed, so this step adds what `rustup target list
#              --installed` lacks. Needs rustup's dist server only when something is missing.
#   venv       localstripe and aiosmtpd in the test venv (scripts/test-env.sh)
#   browser    Chromium, ChromeDriver and pdftotext from Debian (scripts/browser-env.sh)
#   fonts      the fonts invoice PDFs embed subsets of (the host's default PAYDESK_PDF_FONTS):
#              Debian's fonts-noto-core (Noto Sans: Latin, Greek, Cyrillic; Noto Sans Arabic) and
#              fonts-droid-fallback (Chinese, Japanese, Korean), about 14 MB to download, when a
#              file is missing; apt-get installs them (needs root)
#   fuzz       the nightly toolchain and cargo-fuzz that scripts/fuzz.sh needs; when either can't
#              be had it says why in one line and exits 3, which fuzz.sh takes as "skip fuzzing"
#   model      Debian's `spin` model checker (and gcc, which compiles its verifiers), for
#              scripts/model-check.sh; apt-get installs what is missing (needs root)
#   postgres   Debian's `postgresql` (its server binaries in /usr/lib/postgresql/N/bin and the
#              unprivileged `postgres` user the tests run the server as) when no
#              /usr/lib/postgresql/*/bin/initdb exists; apt-get installs it (needs root). The
#              package's own cluster service is not started: the tests start throwaway clusters.
#
# Installs run under an flock, so two of these at once don't both install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The value of `key = "…"` or the items of `key = ["…", …]` in rust-toolchain.toml's [toolchain].
toolchain_field() {
    sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" rust-toolchain.toml | tr -d '[]",' | tr -s ' ' '\n' | sed '/^$/d'
}

# Whether rustup has a toolchain whose name starts with "$1-". The list is read whole first: with
# pipefail, `grep -q` closing the pipe early would count as a failure.
has_toolchain() {
    local list
    list="$(rustup toolchain list)"
    grep -q "^$1-" <<<"$list"
}

# Serialise installs with other runs of this script (any checkout, same user).
lock() {
    exec 8>"${TMPDIR:-/tmp}/paydesk-setup-$(id -u).lock"
    flock 8
}

# Runs an install command quietly; on failure prints its output to stderr and fails.
quietly() {
    local log
    log="$(mktemp)"
    if "$@" >"$log" 2>&1; then
        rm -f "$log"
    else
        local rc=$?
        cat "$log" >&2
        rm -f "$log"
        return "$rc"
    fi
}

# The arguments joined with "; ".
joined() {
    local out="$1"
    shift
    for part in "$@"; do out+="; $part"; done
    printf '%s' "$out"
}

fail() {
    echo "setup: $*" >&2
    return 1
}

step_toolchain() {
    local channel components targets
    channel="$(toolchain_field channel)"
    [ -n "$channel" ] || fail "toolchain: no channel in rust-toolchain.toml"
    mapfile -t components < <(toolchain_field components)
    mapfile -t targets < <(toolchain_field targets)
    command -v rustup >/dev/null || fail "toolchain: rustup is not on PATH; install it and run again"
    local done=()
    if ! has_toolchain "$channel"; then
        lock
        if ! has_toolchain "$channel"; then
            local args=(--profile minimal)
            for c in "${components[@]}"; do args+=(--component "$c"); done
            for t in "${targets[@]}"; do args+=(--target "$t"); done
            quietly rustup toolchain install "$channel" "${args[@]}" ||
                fail "could not install toolchain $channel (rustup's output is above); try: rustup toolchain install $channel"
            done+=("installed toolchain $channel")
        fi
    fi
    local installed missing=()
    installed="$(rustup target list --installed --toolchain "$channel")"
    for t in "${targets[@]}"; do
        grep -qx "$t" <<<"$installed" || missing+=("$t")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        lock
        quietly rustup target add --toolchain "$channel" "${missing[@]}" ||
            fail "could not add target ${missing[*]} to toolchain $channel (rustup's output is above); try: rustup target add --toolchain $channel ${missing[*]}"
        done+=("added target ${missing[*]}")
    fi
    installed="$(rustup component list --installed --toolchain "$channel")"
    missing=()
    for c in "${components[@]}"; do
        grep -q "^$c\(-preview\)\?\(-\|$\)" <<<"$installed" || missing+=("$c")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        lock
        quietly rustup component add --toolchain "$channel" "${missing[@]}" ||
            fail "could not add component ${missing[*]} to toolchain $channel (rustup's output is above); try: rustup component add --toolchain $channel ${missing[*]}"
        done+=("added component ${missing[*]}")
    fi
    if [ ${#done[@]} -eq 0 ]; then
        echo "setup: toolchain $channel has ${targets[*]} ${components[*]}"
    else
        echo "setup: toolchain $channel: $(joined "${done[@]}")"
    fi
}

step_venv() {
    local line
    line="$(scripts/test-env.sh | tail -n 1)"
    echo "setup: ${line#test-env: }"
}

step_browser() {
    local line
    line="$(scripts/browser-env.sh | tail -n 1)"
    echo "setup: ${line#browser-env: }"
}

# Exit 3 with one line on stdout when fuzzing can't run here.
step_fuzz() {
    command -v rustup >/dev/null || { echo "setup: fuzz: skipped, rustup is not on PATH"; return 3; }
    local done=()
    if ! has_toolchain nightly; then
        lock
        if ! has_toolchain nightly &&
            ! quietly rustup toolchain install nightly --profile minimal 2>/dev/null; then
            echo "setup: fuzz: skipped, the nightly toolchain is missing and rustup could not install it (rustup toolchain install nightly)"
            return 3
        fi
        done+=("installed the nightly toolchain")
    fi
    if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        lock
        if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
            if ! quietly cargo +nightly install cargo-fuzz --locked 2>/dev/null; then
                echo "setup: fuzz: skipped, cargo-fuzz is missing and could not be installed (cargo +nightly install cargo-fuzz --locked)"
                return 3
            fi
            done+=("installed cargo-fuzz")
        fi
    fi
    local version
    version="$(cargo +nightly fuzz --version 2>/dev/null)"
    if [ ${#done[@]} -eq 0 ]; then
        echo "setup: fuzz: nightly and $version are installed"
    else
        echo "setup: fuzz: $(joined "${done[@]}") ($version)"
    fi
}

step_model() {
    local missing=()
    command -v spin >/dev/null || missing+=(spin)
    command -v gcc >/dev/null || missing+=(gcc)
    if [ ${#missing[@]} -gt 0 ]; then
        lock
        missing=()
        command -v spin >/dev/null || missing+=(spin)
        command -v gcc >/dev/null || missing+=(gcc)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        # The package lists may be missing or stale on a fresh machine: refresh them only then.
        if ! apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            quietly "${sudo[@]}" apt-get update || fail "model: apt-get update failed (its output is above)"
        fi
        quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
            fail "model: could not install ${missing[*]} (apt-get's output is above); try: apt-get install ${missing[*]}"
        echo "setup: model: installed ${missing[*]} ($(spin -V | head -n 1))"
    else
        echo "setup: model: $(spin -V | head -n 1) and gcc are installed"
    fi
}

# The files the host's default PAYDESK_PDF_FONTS (host/src/pdf/fonts.rs) needs, and their packages.
FONT_FILES=(
    /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf
    /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf
    /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
)
FONT_PACKAGES=(fonts-noto-core fonts-noto-core fonts-droid-fallback)

step_fonts() {
    missing_fonts() {
        local i
        for i in "${!FONT_FILES[@]}"; do
            [ -f "${FONT_FILES[$i]}" ] || echo "${FONT_PACKAGES[$i]}"
        done | sort -u
    }
    local missing
    mapfile -t missing < <(missing_fonts)
    if [ ${#missing[@]} -gt 0 ]; then
        lock
        mapfile -t missing < <(missing_fonts)
    fi
    if [ ${#missing[@]} -eq 0 ]; then
        echo "setup: fonts: Noto Sans, Noto Sans Arabic and Droid Sans Fallback are installed"
        return
    fi
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    if ! apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        quietly "${sudo[@]}" apt-get update || fail "fonts: apt-get update failed (its output is above)"
    fi
    quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
        fail "fonts: could not install ${missing[*]} (apt-get's output is above); try: apt-get install ${missing[*]}"
    mapfile -t missing < <(missing_fonts)
    [ ${#missing[@]} -eq 0 ] || fail "fonts: ${missing[*]} installed but a font file is still missing: ${FONT_FILES[*]}"
    echo "setup: fonts: installed the fonts invoice PDFs embed"
}

step_postgres() {
    have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && id postgres >/dev/null 2>&1; }
    if have_postgres; then
        echo "setup: postgres: $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1) is installed"
        return
    fi
    lock
    if ! have_postgres; then
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        if ! apt-cache policy postgresql 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            quietly "${sudo[@]}" apt-get update || fail "postgres: apt-get update failed (its output is above)"
        fi
        # policy-rc.d keeps the package from starting its own cluster where services can start.
        local policy=/usr/sbin/policy-rc.d made_policy=
        if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
        fi
        quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql ||
            { [ -z "$made_policy" ] || rm -f "$policy"; fail "postgres: could not install postgresql (apt-get's output is above); try: apt-get install postgresql"; }
        [ -z "$made_policy" ] || rm -f "$policy"
        have_postgres || fail "postgres: postgresql is installed but /usr/lib/postgresql/*/bin/initdb or the postgres user is missing"
        echo "setup: postgres: installed $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    else
        echo "setup: postgres: $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1) is installed"
    fi
}

if [ $# -eq 0 ]; then
    echo "usage: scripts/setup.sh STEP...   (steps: toolchain venv browser fonts fuzz model postgres)" >&2
    exit 2
fi
for step in "$@"; do
    case "$step" in
        toolchain | venv | browser | fonts | fuzz | model | postgres) "step_$step" ;;
        *)
            echo "setup: unknown step '$step' (steps: toolchain venv browser fonts fuzz model postgres)" >&2
            exit 2
            ;;
    esac
done
