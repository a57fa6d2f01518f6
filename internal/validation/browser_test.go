package validation

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests open the HTML reports in a real headless Chromium through
// chromedp and check what a person would see: the charts are laid out and
// drawn, the verdict is visible, nothing is loaded from anywhere and nothing
// is written to the console.
//
// The browser is FERRY_TEST_CHROMIUM, else /usr/bin/chromium (Debian's
// chromium package; .ci/chromium.sh installs it). Without one the tests skip,
// or fail under CI. Set FERRY_TEST_SCREENSHOT_DIR to keep the screenshots.

// browserPath returns the Chromium to use, skipping or failing the test when
// there is none.
func browserPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("FERRY_TEST_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	fi, err := os.Stat(path)
	if err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return path
	}
	msg := fmt.Sprintf("no Chromium at %s (set FERRY_TEST_CHROMIUM, or apt-get install chromium)", path)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browserLog collects the browser's output, for the failure messages.
type browserLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *browserLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *browserLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// browserStart starts one headless Chromium for the test and returns its
// context; each chromedp.NewContext of it is a new tab. The browser stops
// when the test ends, before its profile directory is removed.
func browserStart(t *testing.T) context.Context {
	t.Helper()
	path := browserPath(t)
	profile := t.TempDir()
	out := &browserLog{}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1024),
		chromedp.CombinedOutput(out),
	)
	// The deadline bounds the whole browser, so that a hung Chromium fails
	// the test instead of the package's timeout.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 3*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser to exit
		cancelTimeout()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	// Start the browser now, so that a browser that cannot start fails here.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v\nchromium output:\n%s", path, err, out.String())
	}
	return browserCtx
}

// browserPage is what the page reports about itself.
type browserPage struct {
	Title     string                `json:"title"`
	Resources int                   `json:"resources"` // loaded besides the page
	Scripts   int                   `json:"scripts"`
	SVGs      map[string]browserBox `json:"svgs"`
	// Confusion matrix.
	Rects      int      `json:"rects"`
	RectCounts []string `json:"rectCounts"` // data-count, in document order
	CellTexts  []string `json:"cellTexts"`
	DrawnRects int      `json:"drawnRects"` // rects with a non-empty box
	// Curves, by svg id.
	Curves map[string]browserCurve `json:"curves"`
}

type browserBox struct {
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

type browserCurve struct {
	Points int        `json:"points"` // SVGPointList length of the polyline
	Box    browserBox `json:"box"`    // bounding box of the polyline
	Ticks  int        `json:"ticks"`  // tick labels
	Lines  int        `json:"lines"`  // axes, grid and diagonal
}

const browserInspect = `(() => {
	const box = el => { const r = el.getBoundingClientRect(); return {width: r.width, height: r.height}; };
	const out = {
		title: document.title,
		resources: performance.getEntriesByType('resource').length,
		scripts: document.scripts.length,
		svgs: {}, curves: {},
		rects: 0, rectCounts: [], cellTexts: [], drawnRects: 0,
	};
	for (const svg of document.querySelectorAll('svg[id]')) out.svgs[svg.id] = box(svg);
	const rects = document.querySelectorAll('#confusion-matrix rect');
	out.rects = rects.length;
	for (const r of rects) {
		out.rectCounts.push(r.getAttribute('data-count'));
		const b = r.getBBox();
		if (b.width > 0 && b.height > 0) out.drawnRects++;
	}
	for (const t of document.querySelectorAll('#confusion-matrix text.count')) out.cellTexts.push(t.textContent);
	for (const id of ['roc-curve', 'pr-curve', 'calibration-curve']) {
		const svg = document.getElementById(id);
		if (!svg) continue;
		const line = svg.querySelector('polyline.curve');
		out.curves[id] = {
			points: line ? line.points.numberOfItems : -1,
			box: line ? box(line) : {width: 0, height: 0},
			ticks: svg.querySelectorAll('text.tick').length,
			lines: svg.querySelectorAll('line').length,
		};
	}
	return out;
})()`

// browserOpen writes the HTML report of r to a file, opens it in a new tab
// and returns the tab, the page's own account of itself and the console
// messages of type error or exception written while it loaded.
func browserOpen(t *testing.T, browser context.Context, r *Report) (context.Context, browserPage, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	tab, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	console := chromedp.Console(tab) // subscribe before loading the page
	u := url.URL{Scheme: "file", Path: path}
	if err := chromedp.Do(tab, chromedp.Navigate(u.String()), chromedp.WaitVisible(chromedp.ID("verdict"))); err != nil {
		t.Fatalf("open %s: %v", u.String(), err)
	}
	page, err := chromedp.Run(tab, chromedp.Evaluate[browserPage](browserInspect))
	if err != nil {
		t.Fatalf("inspect the page: %v", err)
	}

	// The console keeps the order of the messages: read up to a marker
	// logged after the page has loaded.
	const marker = "ferry-browser-test: end of page"
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`console.log(`+fmt.Sprintf("%q", marker)+`)`)); err != nil {
		t.Fatal(err)
	}
	var errs []string
	for m, err := range console {
		if err != nil {
			t.Fatalf("read the console: %v", err)
		}
		if m.Text == marker {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			errs = append(errs, m.String())
		}
	}
	return tab, page, errs
}

// browserScreenshot takes a full-page screenshot, checks that it is a PNG
// of the page's size, and keeps it in FERRY_TEST_SCREENSHOT_DIR when set.
func browserScreenshot(t *testing.T, tab context.Context, name string) image.Image {
	t.Helper()
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), name+".png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("FERRY_TEST_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(data))
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode the screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 400 {
		t.Fatalf("screenshot is %dx%d", b.Dx(), b.Dy())
	}
	return img
}

// browserColored counts the pixels of img near the colour (r, g, b).
func browserColored(img image.Image, r, g, b uint8) int {
	near := func(a uint32, want uint8) bool {
		d := int(a>>8) - int(want)
		return d > -40 && d < 40
	}
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if near(pr, r) && near(pg, g) && near(pb, b) {
				n++
			}
		}
	}
	return n
}

func TestBrowserRender(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browser := browserStart(t)

	tests := []struct {
		name     string
		report   *Report
		verdict  string
		svgs     []string // ids that must be drawn
		noSVGs   []string // ids that must be absent
		sections []string // ids of sections that must be visible
	}{
		{"binary", renderSampleBinary(), "FAIL",
			[]string{"confusion-matrix", "roc-curve", "pr-curve", "calibration-curve"}, nil,
			[]string{"metrics", "gates", "checks", "slices"}},
		{"multiclass", renderSampleMulticlass(), "PASS",
			[]string{"confusion-matrix"}, []string{"roc-curve", "pr-curve", "calibration-curve"},
			[]string{"metrics", "gates", "checks"}},
		{"regression", renderSampleRegression(), "PASS",
			nil, []string{"confusion-matrix", "roc-curve", "pr-curve", "calibration-curve"},
			[]string{"metrics", "residuals", "gates", "slices"}},
		{"error", renderSampleError(), "ERROR",
			nil, []string{"confusion-matrix", "roc-curve"},
			[]string{"error", "checks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, page, consoleErrs := browserOpen(t, browser, tt.report)

			if len(consoleErrs) > 0 {
				t.Errorf("console errors:\n%s", strings.Join(consoleErrs, "\n"))
			}
			if page.Resources != 0 || page.Scripts != 0 {
				t.Errorf("page loaded %d resources and has %d scripts, want none", page.Resources, page.Scripts)
			}
			if !strings.HasPrefix(page.Title, tt.verdict+": ") {
				t.Errorf("title %q", page.Title)
			}

			verdict, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("verdict"), chromedp.NodeVisible))
			if err != nil {
				t.Fatal(err)
			}
			if verdict != tt.verdict {
				t.Errorf("visible verdict %q, want %q", verdict, tt.verdict)
			}
			for _, id := range tt.sections {
				if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
					t.Errorf("section %s not visible: %v", id, err)
				}
			}

			for _, id := range tt.svgs {
				b, ok := page.SVGs[id]
				if !ok {
					t.Errorf("no svg #%s", id)
					continue
				}
				if b.Width < 100 || b.Height < 100 {
					t.Errorf("svg #%s is %.0fx%.0f", id, b.Width, b.Height)
				}
			}
			for _, id := range tt.noSVGs {
				if _, ok := page.SVGs[id]; ok {
					t.Errorf("svg #%s drawn without data", id)
				}
			}

			if cm := tt.report.Confusion; cm != nil {
				k := len(cm.Labels)
				if page.Rects != k*k || page.DrawnRects != k*k {
					t.Errorf("confusion matrix has %d rects (%d drawn), want %d×%d", page.Rects, page.DrawnRects, k, k)
				}
				var want []string
				for _, row := range cm.Counts {
					for _, n := range row {
						want = append(want, fmt.Sprint(n))
					}
				}
				if !slices.Equal(page.RectCounts, want) || !slices.Equal(page.CellTexts, want) {
					t.Errorf("cells data-count %v, text %v; want %v", page.RectCounts, page.CellTexts, want)
				}
			}

			curves := map[string]int{"roc-curve": len(tt.report.ROC), "pr-curve": len(tt.report.PR)}
			if len(tt.report.Calibration) > 0 {
				n := 0
				for _, b := range tt.report.Calibration {
					if b.Count > 0 {
						n++
					}
				}
				curves["calibration-curve"] = n
			}
			for id, want := range curves {
				if want == 0 {
					continue
				}
				c, ok := page.Curves[id]
				if !ok {
					t.Errorf("no curve in #%s", id)
					continue
				}
				if c.Points != want {
					t.Errorf("#%s polyline has %d points, want %d", id, c.Points, want)
				}
				if c.Box.Width < 50 || c.Box.Height < 50 {
					t.Errorf("#%s polyline is %.0fx%.0f", id, c.Box.Width, c.Box.Height)
				}
				if c.Ticks != 12 || c.Lines < 14 {
					t.Errorf("#%s has %d tick labels and %d lines, want 12 and at least 14 (axes with ticks)", id, c.Ticks, c.Lines)
				}
			}

			if tt.report.Verdict == VerdictError {
				got, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#error pre"), chromedp.NodeVisible))
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.report.Error {
					t.Errorf("visible error %q, want %q", got, tt.report.Error)
				}
			}

			img := browserScreenshot(t, tab, tt.name)
			if len(tt.report.ROC) > 0 {
				// The curves' stroke, #0969da, is on the screen.
				if n := browserColored(img, 0x09, 0x69, 0xda); n < 200 {
					t.Errorf("the screenshot has %d pixels of the curve colour", n)
				}
			}
			if tt.report.Confusion != nil {
				// The darkest cells of the heat map, about #08306b.
				if n := browserColored(img, 0x08, 0x30, 0x6b); n < 500 {
					t.Errorf("the screenshot has %d pixels of dark heat-map cells", n)
				}
			}
		})
	}
}
