package pdb

import "testing"

func TestUndecorate(t *testing.T) {
	tests := []struct{ in, want string }{
		// 32-bit C.
		{"_f@8", "f"},
		{"@f@8", "f"},
		{"_f", "f"},
		{"f@@16", "f"},
		{"_DllMain@12", "DllMain"},
		{"@FastClamp@8", "FastClamp"},
		{"f", "f"},
		{"__real@4000000000000000", "__real@4000000000000000"},
		{"__imp__f@4", "__imp__f@4"},
		{"_", "_"},
		{"@", "@"},
		{"_f@x", "_f@x"},
		// C++.
		{"?Func@Class@@QEAAXXZ", "Class::Func"},
		{"?Alloc@Ledger@pool@etwkit@@QEAAX_K0@Z", "etwkit::pool::Ledger::Alloc"},
		{"??0Ledger@pool@etwkit@@QEAA@XZ", "etwkit::pool::Ledger::Ledger"},
		{"??1Ledger@pool@etwkit@@QEAA@XZ", "etwkit::pool::Ledger::~Ledger"},
		{"??YLedger@pool@etwkit@@QEAAAEAV012@_K@Z", "etwkit::pool::Ledger::operator+="},
		{"??2@YAPEAX_K@Z", "operator new"},
		{"??_U@YAPAXI@Z", "operator new[]"},
		{"??_7Ledger@pool@@6B@", "pool::Ledger::`vftable'"},
		{"??_GLedger@@UEAAPEAXI@Z", "Ledger::`scalar deleting destructor'"},
		{"??$Max@H@@YAHHH@Z", "Max<int>"},
		{"??$Max@N@@YANNN@Z", "Max<double>"},
		{"??0?$Vec@H@@QEAA@XZ", "Vec<int>::Vec"},
		{"?push@?$Vec@PEBD@ns@@QEAAXPEBD@Z", "ns::Vec<const char *>::push"},
		{"?get@?$Arr@H$0BA@@@QEAAHXZ", "Arr<int,16>::get"},
		{"?get@?$Arr@H$00@@QEAAHXZ", "Arr<int,1>::get"},
		{"?f@?$Pair@VFoo@@V1@@@QEAAXXZ", "Pair<Foo,Foo>::f"},
		{"?f@?A0x1234abcd@@YAXXZ", "`anonymous namespace'::f"},
		{"?KeBugCheckEx@@YAXKKKKK@Z", "KeBugCheckEx"},
		{"?x@@3HA", "x"},
		{"??_C@_0M@ABCDEFGH@hello?5world?$AA@", "`string'"},
		// Unparseable: left as is.
		{"?", "?"},
		{"??", "??"},
		{"?f@", "?f@"},
		{"??Bfoo@@QEAAHXZ", "??Bfoo@@QEAAHXZ"},
		{"?f@?1??g@@YAXXZ@4HA", "?f@?1??g@@YAXXZ@4HA"},
		{"?f@5@@YAXXZ", "?f@5@@YAXXZ"},
	}
	for _, tt := range tests {
		if got := Undecorate(tt.in); got != tt.want {
			t.Errorf("Undecorate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFileUndecorateMachine(t *testing.T) {
	x64 := openPDB(t, "x64dll.pdb")
	if got := x64.Undecorate("_fltused"); got != "_fltused" {
		t.Errorf("x64 Undecorate(_fltused) = %q", got)
	}
	if got := x64.Undecorate("?Version@Ledger@@SAHXZ"); got != "Ledger::Version" {
		t.Errorf("x64 Undecorate(C++) = %q", got)
	}
	x86 := openPDB(t, "x86dll.pdb")
	if got := x86.Undecorate("_StdcallMul@8"); got != "StdcallMul" {
		t.Errorf("x86 Undecorate = %q", got)
	}
}

func FuzzUndecorate(f *testing.F) {
	for _, s := range []string{"_f@8", "@f@8", "??$Max@H@@YAHHH@Z", "?push@?$Vec@PEBD@ns@@QEAAXPEBD@Z", "??0?$Vec@H@@QEAA@XZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = Undecorate(s)
	})
}
