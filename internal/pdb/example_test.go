package pdb_test

import (
	"fmt"
	"log"
	"os"

	"github.com/etwkit/etwkit/internal/pdb"
)

// Open the committed test PDB and symbolize an address inside the static
// function square.
func ExampleFile_Lookup() {
	fh, err := os.Open("../../testdata/symbols/x64dll.pdb")
	if err != nil {
		log.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		log.Fatal(err)
	}
	f, err := pdb.Open(fh, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.GUID(), f.Age())

	const rva = 0x1075
	if sym, off, ok := f.Lookup(rva); ok {
		fmt.Printf("x64dll!%s+%#x (%s)\n", sym.Name, off, sym.Kind)
	}
	if file, line, ok := f.Line(rva); ok {
		fmt.Printf("%s:%d\n", file, line)
	}
	// Output:
	// f986fc68-06a0-3012-4c4c-44205044422e 1
	// x64dll!square+0x5 (static)
	// /etwkit/testdata/symbols/x64dll.c:12
}

func ExampleUndecorate() {
	fmt.Println(pdb.Undecorate("_StdcallMul@8"))
	fmt.Println(pdb.Undecorate("@FastClamp@8"))
	fmt.Println(pdb.Undecorate("?Alloc@Ledger@pool@etwkit@@QEAAX_K0@Z"))
	fmt.Println(pdb.Undecorate("??$Max@H@@YAHHH@Z"))
	// Output:
	// StdcallMul
	// FastClamp
	// etwkit::pool::Ledger::Alloc
	// Max<int>
}
