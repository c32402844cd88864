package live

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyLiveImportsGolangETW guards the licensing rule of the package
// doc: golang-etw (GPL-3.0) is imported by this package alone, and no
// library package of etwkit links it. Commands that use this package
// (examples/poolwatch) link it through here.
func TestOnlyLiveImportsGolangETW(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, "github.com/etwkit/etwkit/...")
	cmd.Env = append(cmd.Environ(), "GOOS=windows")
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const gpl = "github.com/0xrawsec/golang-etw"
	const self = "github.com/etwkit/etwkit/etw/live"
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			continue
		}
		n++
		pkg, imports, deps := parts[0], " "+parts[1]+" ", " "+parts[2]+" "
		if pkg != self && strings.Contains(imports, " "+gpl) {
			t.Errorf("%s imports %s; only %s may", pkg, gpl, self)
		}
		if strings.Contains(deps, " "+gpl) && !strings.Contains(deps, " "+self+" ") && pkg != self {
			t.Errorf("%s links %s without going through %s", pkg, gpl, self)
		}
		if strings.HasPrefix(pkg, "github.com/etwkit/etwkit/examples/") || pkg == self {
			continue
		}
		if strings.Contains(deps, " "+self+" ") {
			t.Errorf("library package %s depends on %s", pkg, self)
		}
	}
	if n == 0 {
		t.Skip("go list listed no packages")
	}
}
