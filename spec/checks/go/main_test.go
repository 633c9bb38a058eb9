package main

import "testing"

func TestReadNumber(t *testing.T) {
	for _, tc := range []struct {
		token string
		ok    bool
	}{
		{"1", true}, {"1.0", true}, {"1e0", true}, {"-0", true}, {"0.1", true},
		{"9007199254740992", true}, {"9007199254740994", true}, {"1e21", true},
		{"123456789012345680000", true}, {"5e-324", true}, {"1.7976931348623157e308", true},
		{"-1816395513324030.2", true}, {"-1816395513324030.3", true},
		{"9007199254740993", false}, {"18446744073709551615", false},
		{"0.30000000000000001", false}, {"1e400", false}, {"1e-400", false},
		{"-1816395513324030.25", false}, {"12345678901234567891", false},
	} {
		if _, ok := ReadNumber(tc.token); ok != tc.ok {
			t.Errorf("ReadNumber(%s) = %v, want %v", tc.token, ok, tc.ok)
		}
	}
}

func TestCheckText(t *testing.T) {
	if _, err := CheckText([]byte(`{"a": [1, 2.5, {"b": "x"}], "c": {"a": 1}}`)); err != nil {
		t.Errorf("a good text refused: %v", err)
	}
	for _, bad := range []string{`{"a": 1, "a": 2}`, `{"x": {"b": 1, "b": 1}}`, `[9007199254740993]`, `{"n": 0.30000000000000001}`} {
		if _, err := CheckText([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
