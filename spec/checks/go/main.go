// Command checks reads every vector file with Go's encoding/json, as a Go
// vector runner would (values kept as json.RawMessage, never re-encoded),
// and checks that none has a value whose meaning depends on number
// spelling (SPEC R4.4: every number is a closest shortest decimal of its
// binary64, so float64 and any other reader agree) and that no object has
// a member twice (SPEC R11.7: readers would keep different ones).
//
// Usage: go run . ../../vectors
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	dir := "../../vectors"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	var paths []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(path, ".json") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	sort.Strings(paths)
	failures, numbers := 0, 0
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err == nil {
			var n int
			n, err = CheckText(text)
			numbers += n
		}
		if err != nil {
			failures++
			fmt.Printf("FAIL %s: %v\n", path, err)
		}
	}
	fmt.Printf("%d files, %d numbers, %d failures\n", len(paths), numbers, failures)
	if failures > 0 {
		os.Exit(1)
	}
}

// CheckText checks one JSON text: every number reads under R4.4 and no
// object has a member twice. It returns how many numbers it read.
func CheckText(text []byte) (int, error) {
	// A Go runner keeps values as raw messages: the text must be JSON.
	var raw json.RawMessage
	if err := json.Unmarshal(text, &raw); err != nil {
		return 0, err
	}
	dec := json.NewDecoder(strings.NewReader(string(text)))
	dec.UseNumber()
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]bool
	}
	var stack []*frame
	numbers := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return numbers, nil
		}
		if err != nil {
			return numbers, err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key := tok.(string)
			if top.keys[key] {
				return numbers, fmt.Errorf("member %q twice at byte %d", key, dec.InputOffset())
			}
			top.keys[key] = true
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]bool{}})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
		case json.Number:
			numbers++
			if _, ok := ReadNumber(string(t)); !ok {
				return numbers, fmt.Errorf("number %s would round (R4.4) at byte %d", t, dec.InputOffset())
			}
		}
	}
}

// ReadNumber is R4.4's reading of a number token: the binary64 it denotes
// when the token is a closest shortest decimal of it (either of a tie).
func ReadNumber(token string) (float64, bool) {
	x, err := strconv.ParseFloat(token, 64)
	if err != nil || math.IsInf(x, 0) {
		return 0, false
	}
	written := exact(token)
	if x == 0 {
		return 0, written.Sign() == 0
	}
	ax := math.Abs(x)
	shortest := strconv.FormatFloat(ax, 'e', -1, 64)
	s := exact(shortest)
	if written.Cmp(s) == 0 {
		return x, true
	}
	// A tie: a decimal of the shortest's length one unit in its last digit
	// away, with x exactly halfway between the two.
	digits := len(strings.TrimRight(strings.Replace(strings.Split(shortest, "e")[0], ".", "", 1), "0"))
	exp, _ := strconv.Atoi(strings.Split(shortest, "e")[1])
	unit := new(big.Rat).SetFrac(big.NewInt(1), big.NewInt(1))
	scale := exp - (digits - 1)
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(scale))), nil)
	if scale >= 0 {
		unit.SetInt(pow)
	} else {
		unit.SetFrac(big.NewInt(1), pow)
	}
	diff := new(big.Rat).Sub(written, s)
	if diff.Cmp(unit) != 0 && diff.Cmp(new(big.Rat).Neg(unit)) != 0 {
		return 0, false
	}
	mid := new(big.Rat).Add(written, s)
	mid.Quo(mid, big.NewRat(2, 1))
	return x, mid.Cmp(new(big.Rat).SetFloat64(ax)) == 0
}

// exact is the decimal value of a number token, with its sign dropped.
func exact(token string) *big.Rat {
	r, ok := new(big.Rat).SetString(strings.TrimPrefix(token, "-"))
	if !ok {
		return new(big.Rat)
	}
	return r
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
