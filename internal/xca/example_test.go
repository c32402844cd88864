package xca_test

import (
	"fmt"
	"strings"

	"github.com/etwkit/etwkit/internal/xca"
)

func Example() {
	msg := strings.Repeat("event trace for windows, ", 8)
	for _, f := range []xca.Format{xca.FormatXpress, xca.FormatLZNT1, xca.FormatXpressHuffman} {
		comp, err := xca.AppendCompress(f, nil, []byte(msg))
		if err != nil {
			panic(err)
		}
		dst := make([]byte, len(msg)) // the decompressed size is known, as in ETL buffers
		n, err := xca.Decompress(f, dst, comp)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-12v %d -> %d bytes, round trip ok: %v\n", f, len(msg), len(comp), string(dst[:n]) == msg)
	}
	comp := xca.AppendCompressLZ77(nil, []byte("hello, hello, hello!"))
	out := make([]byte, 64)
	n, _ := xca.DecompressLZ77(out, comp)
	fmt.Println(string(out[:n]))
	// (The Huffman format spends 256 bytes on its code table, so it pays off
	// only on larger inputs.)
	// Output:
	// XPRESS(LZ77) 200 -> 33 bytes, round trip ok: true
	// LZNT1        200 -> 33 bytes, round trip ok: true
	// XPRESS_HUFF  200 -> 273 bytes, round trip ok: true
	// hello, hello, hello!
}
