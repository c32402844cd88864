package pooltag_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/etwkit/etwkit/internal/pooltag"
)

// Look a tag up in a table in pooltag.txt's format.
func ExampleParse() {
	t, err := pooltag.Parse(strings.NewReader("// tags\nIrp  - <unknown> - Io, IRP packets\nEtwk - driver.sys - test contexts\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Describe("Irp "))
	fmt.Println(t.Describe("Etwk"))
	// Output:
	// Io, IRP packets
	// test contexts (driver.sys)
}
