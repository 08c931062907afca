package console

import (
	"context"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"migrantbot"
)

// bar is one bar of a chart, with its geometry already computed, so that
// the template only places numbers.
type bar struct {
	X, Y, W, H float64
	Label      string
	N          int
	// TextX and TextY place the label; NX and NY the count.
	TextX, TextY float64
	NX, NY       float64
	ShowLabel    bool
}

// chart is an inline SVG bar chart.
type chart struct {
	ID         string
	Title      string
	Width      int
	Height     int
	Horizontal bool
	Bars       []bar
	Empty      bool
}

// Chart geometry, in SVG user units.
const (
	chartWidth   = 720
	rowHeight    = 26
	labelWidth   = 210
	countWidth   = 60
	columnHeight = 180
	axisHeight   = 40
	maxLabelLen  = 28
)

// shorten cuts a label to fit the chart.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxLabelLen {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabelLen-1]) + "…"
}

func maxOf(counts []migrantbot.Count) int {
	m := 0
	for _, c := range counts {
		m = max(m, c.N)
	}
	return m
}

// horizontalChart lays out one bar per row: label, bar, count.
func horizontalChart(id, title string, counts []migrantbot.Count, label func(string) string) chart {
	c := chart{ID: id, Title: title, Width: chartWidth, Horizontal: true, Empty: maxOf(counts) == 0}
	c.Height = max(len(counts), 1) * rowHeight
	span := float64(chartWidth - labelWidth - countWidth)
	top := float64(maxOf(counts))
	for i, n := range counts {
		w := 0.0
		if top > 0 {
			w = span * float64(n.N) / top
		}
		y := float64(i * rowHeight)
		c.Bars = append(c.Bars, bar{
			X: labelWidth, Y: y + 4, W: w, H: rowHeight - 8, Label: shorten(label(n.Label)), N: n.N,
			TextX: labelWidth - 8, TextY: y + rowHeight/2 + 5, NX: labelWidth + w + 6, NY: y + rowHeight/2 + 5,
			ShowLabel: true,
		})
	}
	return c
}

// weeklyChart lays out one column per week.
func weeklyChart(title string, weeks []migrantbot.Count) chart {
	c := chart{ID: "weeks", Title: title, Width: chartWidth, Height: columnHeight + axisHeight, Empty: maxOf(weeks) == 0}
	if len(weeks) == 0 {
		return c
	}
	// A margin on each side keeps the first and last labels, centred under
	// their columns, inside the picture.
	const margin = 24
	step := float64(chartWidth-2*margin) / float64(len(weeks))
	top := float64(maxOf(weeks))
	for i, n := range weeks {
		h := 0.0
		if top > 0 {
			h = (columnHeight - 20) * float64(n.N) / top
		}
		x := margin + float64(i)*step
		label := n.Label
		if t, err := time.Parse(time.DateOnly, n.Label); err == nil {
			label = t.Format("01-02")
		}
		c.Bars = append(c.Bars, bar{
			X: x + 2, Y: columnHeight - h, W: step - 4, H: h, Label: label, N: n.N,
			TextX: x + step/2, TextY: columnHeight + 18, NX: x + step/2, NY: columnHeight - h - 4,
			// Every fourth week, counted back from the latest.
			ShowLabel: (len(weeks)-1-i)%4 == 0,
		})
	}
	return c
}

type statsPage struct {
	Charts   []chart
	Median   string
	Answered int
}

type statsReader interface {
	Stats(ctx context.Context) (migrantbot.Stats, error)
}

// handleStats shows the statistics as server-rendered SVG: no script, no
// outside resource.
func (a *app) handleStats(st statsReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := st.Stats(r.Context())
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: stats: %w", err))
			return
		}
		p := &statsPage{Answered: s.Answered}
		v := a.newView(r, "stats_title", p)
		p.Charts = []chart{
			weeklyChart(v.T("stats_per_week"), s.PerWeek),
			horizontalChart("status", v.T("stats_by_status"), s.ByStatus, func(l string) string { return v.StatusName(migrantbot.Status(l)) }),
			horizontalChart("category", v.T("stats_by_category"), s.ByCategory, v.CategoryName),
			horizontalChart("citizenship", v.T("stats_by_citizenship"), s.ByCitizenship, v.CountryName),
			horizontalChart("country", v.T("stats_by_country"), s.ByCountry, v.CountryName),
		}
		if s.Answered > 0 {
			p.Median = formatDuration(v, s.MedianFirstAnswer)
		}
		a.render(w, r, http.StatusOK, "stats", v)
	})
}

// formatDuration writes a duration as days, hours and minutes, leaving out
// what is too small to matter.
func formatDuration(v *view, d time.Duration) string {
	d = d.Round(time.Minute)
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%d %s %d %s", days, v.T("unit_days"), hours, v.T("unit_hours"))
	case hours > 0:
		return fmt.Sprintf("%d %s %d %s", hours, v.T("unit_hours"), mins, v.T("unit_minutes"))
	default:
		return fmt.Sprintf("%d %s", mins, v.T("unit_minutes"))
	}
}
