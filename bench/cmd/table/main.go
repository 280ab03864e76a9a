// Command table reads `go test -bench` output of several rounds and prints,
// per benchmark, the median ns/op, the median of the per-round ratios to the
// floor of the same algorithm and mode, and B/op and allocs/op.
//
//	go test -run '^$' -bench . -benchmem -count 1 ... | go run ./cmd/table
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

var line = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op\s+([\d.]+) allocs/op)?`)

type sample struct{ ns, bytes, allocs float64 }

func main() {
	rounds := map[string][]sample{} // by benchmark name, in order seen
	var order []string
	round := map[string]int{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := m[1]
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseFloat(m[3], 64)
		a, _ := strconv.ParseFloat(m[4], 64)
		if _, ok := rounds[name]; !ok {
			order = append(order, name)
		}
		rounds[name] = append(rounds[name], sample{ns, b, a})
		round[name]++
	}
	fmt.Println("| benchmark | median ns/op | ratio to floor (median of rounds) | B/op | allocs/op |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, name := range order {
		s := rounds[name]
		ratio := "—"
		if floor := floorOf(name); floor != "" && rounds[floor] != nil && len(rounds[floor]) == len(s) {
			var rs []float64
			for i := range s {
				rs = append(rs, s[i].ns/rounds[floor][i].ns)
			}
			ratio = fmt.Sprintf("%.2f×", median(rs))
		}
		var ns []float64
		for _, x := range s {
			ns = append(ns, x.ns)
		}
		fmt.Printf("| %s | %s | %s | %.0f | %.0f |\n", name, human(median(ns)), ratio, s[len(s)-1].bytes, s[len(s)-1].allocs)
	}
}

// floorOf names the floor benchmark of the same group: FirstSeen/RS256/x ->
// FirstSeen/RS256/floor, keeping a /parallel suffix; Repeated rows compare
// with FirstSeen's floor.
func floorOf(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 3 {
		return ""
	}
	floor := []string{"FirstSeen", parts[1], "floor"}
	if parts[len(parts)-1] == "parallel" {
		floor = append(floor, "parallel")
	}
	return strings.Join(floor, "/")
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func human(ns float64) string {
	if ns >= 1000 {
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
