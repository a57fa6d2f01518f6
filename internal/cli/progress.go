package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressBar draws "stage [=====>    ] 40/100  ETA 3s" on a terminal, and
// nothing when w is not one, so logs and pipes stay clean.
type progressBar struct {
	w     io.Writer
	tty   bool
	stage string
	start time.Time
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	tty := false
	if ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty}
}

// progress returns a progress bar on the command's standard error, drawn
// when that is a terminal or FERRY_PROGRESS=always.
func (a *app) progress(cmd interface{ ErrOrStderr() io.Writer }) *progressBar {
	p := newProgressBar(cmd.ErrOrStderr())
	if a.env.lookup("FERRY_PROGRESS") == "always" {
		p.tty = true
	}
	return p
}

// Update shows progress of stage; total 0 means unknown.
func (p *progressBar) Update(stage string, done, total int) {
	if !p.tty {
		return
	}
	now := time.Now()
	if stage != p.stage {
		p.Done()
		p.stage, p.start = stage, now
	} else if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = now
	line := stage + "..."
	if total > 0 {
		const width = 30
		fill := width * done / total
		bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
		if fill > 0 && fill < width {
			bar = strings.Repeat("=", fill-1) + ">" + strings.Repeat(" ", width-fill)
		}
		eta := "-"
		if done > 0 {
			eta = (time.Duration(float64(now.Sub(p.start)) * float64(total-done) / float64(done))).Round(time.Second).String()
		}
		line = fmt.Sprintf("%-10s [%s] %d/%d  ETA %s", stage, bar, done, total, eta)
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.drawn = true
}

// Done ends the current line.
func (p *progressBar) Done() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
