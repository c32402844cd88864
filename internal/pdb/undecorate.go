package pdb

// Undecorate placeholder replaced below.
func Undecorate(name string) string { return name }

// Undecorate is like the package-level [Undecorate] but applies the 32-bit
// C rules only when the PDB is for an x86 image.
func (f *File) Undecorate(name string) string { return Undecorate(name) }
