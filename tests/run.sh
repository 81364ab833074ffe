#!/usr/bin/env bash
# The test command: prepares what the tests need, then runs every test of the workspace.
#
#     tests/run.sh [more cargo test arguments]     e.g.  tests/run.sh postfix::
#
# Prepares, each step only when not done already:
#   - aiosmtpd, for the fault-injecting SMTP server (tests/smtp/faulty_smtp.py): a virtualenv in
#     the target directory (target/tmp/smtp-venv), never the user's own Python;
#   - dkimpy and PyNaCl, the independent DKIM verifier (tests/dkim/verify.py), in that virtualenv;
#   - componentize-py (pinned), which builds the Python renderers (tests/build.rs), in that
#     virtualenv too, named to the build by ISOMAIL_COMPONENTIZE_PY;
#   - as root only: the private postfix instance of tests/smtp/postfix.sh on 127.0.0.1:2587 (its
#     own config, queue and ports under /var/tmp/isomail-postfix; never /etc/postfix, never
#     port 25; installs the postfix package if missing);
#   - componentize-qjs, which makes the JavaScript renderers components (tests/build.rs): npm ci
#     of guest/javascript's pinned package-lock.json into the target directory
#     (target/tmp/js-tools), its path exported as ISOMAIL_COMPONENTIZE_QJS; as root only, it
#     installs Debian's nodejs and npm first if node or npm is missing;
#   - checks that `openssl` and `script` (util-linux) exist; and whether it runs as root (the
#     compile-cache tests make files of another user).
# What it cannot prepare it says up front, and the tests that need it are compiled as ignored
# (tests/build.rs, ISOMAIL_TEST_MISSING), so cargo counts them as ignored with the reason: never
# as passed. Under CI (CI set, not "false") nothing may be left out: it fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

ci=false
if [ -n "${CI:-}" ] && [ "${CI:-}" != false ]; then ci=true; fi
# Test input that git ignores would pass here and be missing from every clone (the bounce
# corpus once was: *.eml is ignored as render output). Refuse to run with any.
if git rev-parse --git-dir >/dev/null 2>&1; then
  ignored=$(git ls-files --others --ignored --exclude-standard -- tests host guest docs wit \
    | grep -v '/target/' || true)
  if [ -n "$ignored" ]; then
    echo "tests/run.sh: these files are in the source tree but ignored by git, so no clone has them:" >&2
    echo "$ignored" | sed 's/^/  /' >&2
    echo "tests/run.sh: un-ignore them in .gitignore (and commit them), or move them out" >&2
    exit 1
  fi
fi
missing=()   # parts of ISOMAIL_TEST_MISSING (tests/build.rs lists them)
why=()       # one line each, for the reader

# --- aiosmtpd, in a virtualenv where util::smtp_python looks (CARGO_TARGET_TMPDIR) ------------
if ! command -v python3 >/dev/null; then
  missing+=(aiosmtpd dkimpy componentize-py)
  why+=("aiosmtpd, dkimpy, componentize-py: python3 not found")
else
  target=$(cargo metadata --no-deps --format-version 1 \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  [ -n "$target" ] || { echo "tests/run.sh: cargo metadata named no target directory" >&2; exit 1; }
  venv="$target/tmp/smtp-venv"
  if "$venv/bin/python3" -c 'import aiosmtpd' 2>/dev/null; then
    :
  elif [ ! -e "$venv" ] && python3 -c 'import aiosmtpd' 2>/dev/null; then
    : # the user's own python3 has it; the tests use python3 when there is no virtualenv
  else
    echo "tests/run.sh: installing aiosmtpd into $venv"
    if python3 -m venv --clear "$venv" \
      && "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check aiosmtpd; then
      if ! "$venv/bin/python3" tests/smtp/selftest_faulty.py; then
        rm -rf "$venv"   # so the tests do not take a half-made one for the real thing
        missing+=(aiosmtpd)
        why+=("aiosmtpd: installed, but tests/smtp/selftest_faulty.py failed (see above): faulty_smtp.py and its self-test disagree")
      fi
    else
      rm -rf "$venv"
      missing+=(aiosmtpd)
      why+=("aiosmtpd: could not make $venv with python3 -m venv (Debian: apt-get install python3-venv) and pip install aiosmtpd")
    fi
  fi
  # dkimpy in the Python the tests use (tests/tests/dkim.rs looks where util::smtp_python does).
  python=python3; [ -x "$venv/bin/python3" ] && python="$venv/bin/python3"
  if ! "$python" -c 'import dkim, nacl' 2>/dev/null; then
    if [ "$python" != python3 ] \
      && echo "tests/run.sh: installing dkimpy and pynacl into $venv" \
      && "$python" -m pip install --quiet --disable-pip-version-check dkimpy pynacl; then
      :
    else
      missing+=(dkimpy)
      why+=("dkimpy: $python cannot import dkim and nacl, and pip install dkimpy pynacl into $venv was not possible")
    fi
  fi
  # componentize-py, pinned, which builds the Python renderers (tests/build.rs builds them with
  # the one ISOMAIL_COMPONENTIZE_PY names).
  componentize_py="$venv/bin/componentize-py"
  componentize_py_version=0.25.1
  if [ "$("$componentize_py" --version 2>/dev/null)" != "componentize-py $componentize_py_version" ]; then
    if [ -x "$venv/bin/python3" ] \
      && echo "tests/run.sh: installing componentize-py $componentize_py_version into $venv" \
      && "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
        "componentize-py==$componentize_py_version"; then
      :
    else
      missing+=(componentize-py)
      why+=("componentize-py: pip install componentize-py==$componentize_py_version into $venv was not possible")
    fi
  fi
  if [ "$("$componentize_py" --version 2>/dev/null)" = "componentize-py $componentize_py_version" ]; then
    export ISOMAIL_COMPONENTIZE_PY="$componentize_py"
  fi
fi

# --- componentize-qjs, for the JavaScript renderers (tests/build.rs builds them with it) ----------
# guest/javascript's package.json and package-lock.json pin it; npm ci installs exactly that
# into the target directory, again only when the lock file changed.
if { ! command -v npm >/dev/null || ! command -v node >/dev/null; } && [ "$(id -u)" = 0 ]; then
  echo "tests/run.sh: installing nodejs and npm (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm || true
fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  missing+=(componentize-qjs)
  if [ "$(id -u)" = 0 ]; then
    why+=("componentize-qjs: node and npm not found, and apt-get install nodejs npm failed (its messages are above)")
  else
    why+=("componentize-qjs: node and npm not found (Debian: apt-get install nodejs npm; as root tests/run.sh does)")
  fi
else
  js_target=$(cargo metadata --no-deps --format-version 1 \
    | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
  js_tools="$js_target/tmp/js-tools"
  componentize_qjs="$js_tools/node_modules/.bin/componentize-qjs"
  if ! cmp -s guest/javascript/package-lock.json "$js_tools/package-lock.json" \
    || ! "$componentize_qjs" --help >/dev/null 2>&1; then
    echo "tests/run.sh: installing componentize-qjs into $js_tools (npm ci)"
    rm -rf "$js_tools"
    mkdir -p "$js_tools"
    cp guest/javascript/package.json guest/javascript/package-lock.json "$js_tools/"
    if ! npm ci --prefix "$js_tools" --no-audit --no-fund --loglevel=error \
      || ! "$componentize_qjs" --help >/dev/null 2>&1; then
      rm -rf "$js_tools"   # so the next run tries again rather than trust a half-made one
    fi
  fi
  if [ -x "$componentize_qjs" ]; then
    export ISOMAIL_COMPONENTIZE_QJS="$componentize_qjs"
  else
    missing+=(componentize-qjs)
    why+=("componentize-qjs: npm ci of guest/javascript/package-lock.json into $js_tools failed (its messages are above)")
  fi
fi

# --- the test postfix ---------------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  echo "tests/run.sh: starting the test postfix (tests/smtp/postfix.sh)"
  if ! bash tests/smtp/postfix.sh >/dev/null; then
    missing+=(postfix)
    why+=("postfix: tests/smtp/postfix.sh failed (its messages are above)")
  fi
else
  missing+=(postfix root)
  why+=("postfix: only root can start the test postfix and read what it delivers")
  why+=("root: the compile-cache tests chown files to another user")
fi

# --- commands -----------------------------------------------------------------------------------
command -v openssl >/dev/null || { missing+=(openssl); why+=("openssl: command not found"); }
command -v script >/dev/null || { missing+=(script); why+=("script (util-linux): command not found"); }

if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/run.sh: NOT prepared on this machine:" >&2
  printf '  - %s\n' "${why[@]}" >&2
  if $ci; then
    echo "tests/run.sh: CI must run every test: failing" >&2
    exit 1
  fi
  echo "tests/run.sh: the tests that need these are compiled as IGNORED (not run)" >&2
  export ISOMAIL_TEST_MISSING="${missing[*]}"
else
  # Unset, not empty: the same build as a plain `cargo test`, so switching costs no rebuild.
  unset ISOMAIL_TEST_MISSING
fi

status=0
cargo test --release --workspace "$@" || status=$?
if [ ${#missing[@]} -gt 0 ]; then
  (IFS=,; echo "tests/run.sh: the tests that need ${missing[*]} were NOT run (cargo counted them as ignored)" >&2)
fi
exit $status
