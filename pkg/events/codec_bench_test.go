package events

import "testing"

// The codec runs once per event in the relay and in every consumer; these
// measure its cost per event (make bench).

func BenchmarkEncode(b *testing.B) {
	e := updatedFixture()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := Encode(e, "/orders-service"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	_, value, headers, err := Encode(updatedFixture(), "/orders-service")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(headers, value); err != nil {
			b.Fatal(err)
		}
	}
}
