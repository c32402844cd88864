package pe_test

import (
	"fmt"
	"log"
	"os"

	"github.com/etwkit/etwkit/internal/pe"
)

// Open the committed test DLL, print the PDB it names and symbolize an
// address from its exports.
func ExampleNewFile() {
	fh, err := os.Open("../../testdata/symbols/x64dll.dll")
	if err != nil {
		log.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		log.Fatal(err)
	}
	f, err := pe.NewFile(fh, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Machine, f.IsDLL(), fmt.Sprintf("%#x", f.ImageBase))

	cv, ok, err := f.CodeView()
	if err != nil || !ok {
		log.Fatal("no CodeView record: ", err)
	}
	fmt.Println(cv.Path, cv.Age)

	e, off, ok := f.LookupExport(0x10a5)
	if ok {
		fmt.Printf("x64dll!%s+%#x\n", e.Name, off)
	}
	// Output:
	// x64 true 0x180000000
	// x64dll.pdb 1
	// x64dll!Hash+0x5
}
