// goffsets prints byte offsets of struct fields from a Go binary's DWARF, one "type.field offset" per
// line, so tests can check the offsets the uprobe tracers assume (runtime.g.goid, net/http.Request.Method…).
//
// usage: goffsets BINARY TYPE.FIELD...
package main

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: goffsets BINARY TYPE.FIELD...")
		os.Exit(2)
	}
	f, err := elf.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	d, err := f.DWARF()
	if err != nil {
		fail(err)
	}
	want := map[string][]string{}
	for _, q := range os.Args[2:] {
		i := strings.LastIndex(q, ".")
		want[q[:i]] = append(want[q[:i]], q[i+1:])
	}
	found := map[string]int64{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			fail(err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		fields, ok := want[name]
		if !ok {
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			fail(err)
		}
		st := t.(*dwarf.StructType)
		for _, f := range st.Field {
			for _, w := range fields {
				if f.Name == w {
					found[name+"."+w] = f.ByteOffset
				}
			}
		}
	}
	for _, q := range os.Args[2:] {
		off, ok := found[q]
		if !ok {
			fail(fmt.Errorf("%s: not found in DWARF", q))
		}
		fmt.Printf("%s %d\n", q, off)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "goffsets:", err)
	os.Exit(1)
}
