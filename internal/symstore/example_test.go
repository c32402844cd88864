package symstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/symstore"
)

// Example builds a one-tier symbol store in a temporary folder and finds a
// PDB in it by name, GUID and age.
func Example() {
	root, err := os.MkdirTemp("", "symstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)

	key := symstore.PDBKey{
		Name: `d:\os\obj\amd64fre\ntkrnlmp.pdb`, // as in an RSDS record
		GUID: etw.MustParseGUID("{1b72224d-37b8-1792-2820-0ed8994498b2}"),
		Age:  1,
	}
	dir := filepath.Join(root, "ntkrnlmp.pdb", key.Dir())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Println(err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "ntkrnlmp.pdb"), []byte("MSF 7.00"), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	p, err := symstore.Parse("srv*" + root) // or symstore.FromEnv()
	if err != nil {
		fmt.Println(err)
		return
	}
	found, err := symstore.New(p, nil).FindPDB(context.Background(), key)
	if err != nil {
		fmt.Println(err)
		return
	}
	rel, _ := filepath.Rel(root, found)
	fmt.Println(filepath.ToSlash(rel))

	key.Age = 2
	_, err = symstore.New(p, nil).FindPDB(context.Background(), key)
	fmt.Println(err)
	// Output:
	// ntkrnlmp.pdb/1B72224D37B8179228200ED8994498B21/ntkrnlmp.pdb
	// symstore: ntkrnlmp.pdb/1B72224D37B8179228200ED8994498B22/ntkrnlmp.pdb not found
}

// ExamplePEKey_Dir shows the two key formats of a symbol store.
func ExamplePEKey_Dir() {
	pe := symstore.PEKey{Name: "ntoskrnl.exe", TimeDateStamp: 0x7A04BFB2, SizeOfImage: 0x1046000}
	pdb := symstore.PDBKey{Name: "ntkrnlmp.pdb", GUID: etw.MustParseGUID("497b72f6-390a-44fc-878e-5a2d63b6cc4b"), Age: 0x1a}
	fmt.Println(pe.Dir())
	fmt.Println(pdb.Dir())
	// Output:
	// 7A04BFB21046000
	// 497B72F6390A44FC878E5A2D63B6CC4B1A
}
