package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// report is everything a run measured, as printed and as results.json.
type report struct {
	Date        string        `json:"date"`
	Machine     string        `json:"machine"`
	Command     string        `json:"command"`
	Plugin      string        `json:"plugin"`
	Config      runConfig     `json:"config"`
	Comparisons []*comparison `json:"comparisons"`
	Checks      []check       `json:"checks"`
	Notes       []string      `json:"notes"`
	GoBench     struct {
		Command string   `json:"command,omitempty"`
		Lines   []string `json:"lines,omitempty"`
	} `json:"go_bench"`
}

// pluginVersion describes the plugin's working tree: `git describe
// --always --dirty` of the repository holding the bench module.
func pluginVersion(src string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = src
	out, err := cmd.Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	return "commit " + strings.TrimSpace(string(out))
}

// check is one of the project's performance targets and whether it was met.
type check struct {
	Target string `json:"target"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

func newReport(rc runConfig, command string) *report {
	host, _ := os.Hostname()
	return &report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: fmt.Sprintf("%s, %d cores (runtime.NumCPU), %s %s/%s", host, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH),
		Command: command,
		Config:  rc,
	}
}

func (r *report) add(c *comparison) { r.Comparisons = append(r.Comparisons, c) }

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// ratio checks want: got/base >= min (or <= max when min is 0).
func (r *report) checkRatio(target string, got, base, minRatio, maxRatio float64, unit string) {
	if base == 0 {
		r.Checks = append(r.Checks, check{Target: target, Detail: "no baseline measured"})
		return
	}
	ratio := got / base
	met := (minRatio == 0 || ratio >= minRatio) && (maxRatio == 0 || ratio <= maxRatio)
	r.Checks = append(r.Checks, check{Target: target, Met: met,
		Detail: fmt.Sprintf("%s vs %s %s: ratio %.3f", number(got), number(base), unit, ratio)})
}

// writeMarkdown prints the run as Markdown tables: the first target of each
// comparison is the base of its ratios.
func (r *report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Date: %s  \nMachine: %s  \nPlugin: %s  \nCommand: `%s`  \n", r.Date, r.Machine, r.Plugin, r.Command)
	fmt.Fprintf(w, "Shape: rounds and durations as each table says, each measured after %v warmup, targets interleaved; %d keep-alive connections; medians over rounds.\n\n",
		r.Config.Warmup, r.Config.Conns)
	for _, c := range r.Comparisons {
		fmt.Fprintf(w, "### %s\n\n", c.Title)
		fmt.Fprintf(w, "%d rounds of %v per target. Load average (1 min) %s before, %s after, on %d cores.\n\n", c.Config.Rounds, c.Config.Duration, c.LoadAvg[0], c.LoadAvg[1], runtime.NumCPU())
		fmt.Fprintln(w, "| target | req/s (median) | × base | × base, paired | p50 | p99 | p99 × base | errors | req/s per round |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---|")
		base := c.summary(c.Targets[0])
		for _, name := range c.Targets {
			s := c.summary(name)
			var rounds []string
			for _, res := range c.Rounds[name] {
				rounds = append(rounds, fmt.Sprintf("%.0f", res.RPS))
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %.3f | %v | %v | %s | %d | %s |\n", name, s.RPS,
				ratioText(s.RPS, base.RPS), c.pairedRatio(name, c.Targets[0]), round(s.P50), round(s.P99),
				ratioText(float64(s.P99), float64(base.P99)), s.Errors, strings.Join(rounds, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "### Targets\n\n| target | met | measured |\n|---|---|---|")
		for _, c := range r.Checks {
			met := "no"
			if c.Met {
				met = "yes"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", c.Target, met, c.Detail)
		}
		fmt.Fprintln(w)
	}
	if r.GoBench.Command != "" {
		fmt.Fprintf(w, "### Plugin Go benchmarks\n\n`%s` at the module root:\n\n```\n%s\n```\n\n", r.GoBench.Command, strings.Join(r.GoBench.Lines, "\n"))
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "### Notes")
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		fmt.Fprintln(w)
	}
}

// number prints a figure without exponent: whole above 100, else 2 decimals.
func number(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func ratioText(v, base float64) string {
	if base == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", v/base)
}

// writeJSON saves the whole report, every round included.
func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}
