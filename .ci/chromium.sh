# Sourced by .ci/run (or by hand: `source .ci/chromium.sh && CI=1 go test -run Browser ./internal/validation/`):
# makes sure Debian's Chromium is installed at /usr/bin/chromium, installing
# the package chromium with apt-get when it is absent (never a browser
# download by a test tool: this network reaches only the package registries),
# checks that it starts headless, and exports FERRY_TEST_CHROMIUM with its
# path. The browser tests open the HTML validation reports in it through
# chromedp; under CI they fail instead of skipping when it is missing.
#
# Sourcing returns non-zero when the install fails or the browser does not
# start. The script does not change the caller's shell options.

if ! (return 0 2>/dev/null); then
	echo "ci: source this script (source .ci/chromium.sh), do not run it" >&2
	exit 2
fi

chromium_setup() {
	local bin=/usr/bin/chromium profile version
	if [ ! -x "$bin" ]; then
		echo "ci: installing chromium from Debian's packages (large, a few minutes)" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || {
			echo "ci: apt-get install chromium failed" >&2
			return 1
		}
	fi
	# Debian's launcher prints a harmless shell warning on some machines;
	# keep only the version line.
	version=$("$bin" --version 2>/dev/null | grep -m1 -i chromium) || {
		echo "ci: $bin --version failed" >&2
		return 1
	}
	# One headless start with the flags the tests use, so that a browser
	# that cannot run here fails in this step with its own message.
	profile=$(mktemp -d "${TMPDIR:-/tmp}/ferry-chromium.XXXXXX") || return 1
	local dom=""
	dom=$(timeout 60 "$bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" --dump-dom 'data:text/html,<p>ok</p>' 2>"$profile.log") || true
	if [[ $dom != *'<p>ok</p>'* ]]; then
		echo "ci: headless $bin did not render a page; its output:" >&2
		tail -n 20 "$profile.log" >&2
		rm -rf "$profile" "$profile.log"
		return 1
	fi
	rm -rf "$profile" "$profile.log"
	echo "ci: $version at $bin"
	export FERRY_TEST_CHROMIUM=$bin
}

chromium_setup
