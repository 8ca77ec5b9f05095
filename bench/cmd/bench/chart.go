package main

import (
	"fmt"
	"image/color"
	"os"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writeChart draws a comparison as a PNG: median throughput and median p99
// per target, side by side, with each round's value as a dot.
func writeChart(c *comparison, path string) error {
	rps := barPanel(c, "Throughput (median, req/s)", "req/s", func(s summary) float64 { return s.RPS },
		func(i int, name string) []float64 {
			var vs []float64
			for _, r := range c.Rounds[name] {
				vs = append(vs, r.RPS)
			}
			return vs
		})
	p99 := barPanel(c, "p99 latency (median, ms)", "ms", func(s summary) float64 { return ms(s.P99) },
		func(i int, name string) []float64 {
			var vs []float64
			for _, r := range c.Rounds[name] {
				vs = append(vs, ms(r.P99))
			}
			return vs
		})
	for _, p := range []*plot.Plot{rps, p99} {
		if p == nil {
			return fmt.Errorf("chart %s: no data", c.Title)
		}
	}

	const w, h = 12 * vg.Inch, 5 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{{rps, p99}}, tiles, dc)
	rps.Draw(canvases[0][0])
	p99.Draw(canvases[0][1])

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return f.Close()
}

var barColors = []color.Color{
	color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff},
	color.RGBA{R: 0xdd, G: 0x84, B: 0x52, A: 0xff},
	color.RGBA{R: 0x55, G: 0xa8, B: 0x68, A: 0xff},
	color.RGBA{R: 0xc4, G: 0x4e, B: 0x52, A: 0xff},
	color.RGBA{R: 0x81, G: 0x72, B: 0xb3, A: 0xff},
}

// barPanel is one panel: a bar per target (its median) and a dot per round.
func barPanel(c *comparison, title, unit string, value func(summary) float64, rounds func(int, string) []float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = c.Title + ": " + title
	p.Y.Label.Text = unit
	p.Y.Min = 0
	p.Y.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(min, max)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
			}
		}
		return ticks
	})
	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	p.Add(grid)
	var dots plotter.XYs
	for i, name := range c.Targets {
		bar, err := plotter.NewBarChart(plotter.Values{value(c.summary(name))}, vg.Points(40))
		if err != nil {
			return nil
		}
		bar.XMin = float64(i)
		bar.Color = barColors[i%len(barColors)]
		bar.LineStyle.Width = 0
		p.Add(bar)
		for _, v := range rounds(i, name) {
			dots = append(dots, plotter.XY{X: float64(i), Y: v})
		}
	}
	if len(dots) > 0 {
		sc, err := plotter.NewScatter(dots)
		if err == nil {
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			sc.GlyphStyle.Radius = vg.Points(2.5)
			sc.GlyphStyle.Color = color.Black
			p.Add(sc)
		}
	}
	labels := make([]string, len(c.Targets))
	for i, name := range c.Targets {
		labels[i] = strings.Replace(name, " ", "\n", 1) // two lines, so long names do not collide
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(c.Targets))-0.4
	p.Y.Max *= 1.08 // room for the top dot
	return p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
