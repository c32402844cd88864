#!/bin/sh
# build.sh rebuilds the PE images, PDBs and golden files in this folder.
#
# Needs Debian's clang, lld and llvm tools (clang 14, lld-link, llvm-pdbutil,
# llvm-symbolizer, llvm-readobj): apt-get install -y clang lld llvm.
# No Windows SDK or CRT is used: every image is freestanding (/nodefaultlib)
# with its own entry point.
#
# Outputs (committed):
#   x64dll.dll   + x64dll.pdb    x64 DLL with exports, a forwarder, a
#                                NONAME ordinal and static functions
#   x86dll.dll   + x86dll.pdb    i686 DLL with __cdecl/__stdcall/__fastcall
#                                (decorated _f, _f@8, @f@8 publics)
#   driver.sys   + driver.pdb    x64 /driver /subsystem:native image
#   cppdll.dll   + cppdll.pdb    x64 C++ DLL with MSVC-decorated names
#   *.symbolizer.txt             llvm-symbolizer answers (GNU style: address,
#                                function, file:line) for every byte
#                                of .text (plus a few addresses outside it),
#                                relative addresses
#   *.pdbutil.txt                llvm-pdbutil dump -publics -symbols
#   *.exports.txt                llvm-readobj --coff-exports --coff-debug-directory
#
# Paths recorded in the PDBs are made machine-independent with
# -fdebug-compilation-dir and /pdbsourcepath, and the PE's PDB path with
# /pdbaltpath, so every build records /etwkit/testdata/symbols/... .
set -eu

cd "$(dirname "$0")"
here=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

src=/etwkit/testdata/symbols
cflags="-g -gcodeview -O0 -ffreestanding -fno-stack-protector -fno-builtin -fdebug-compilation-dir=$src"
lflags="/nologo /debug /pdbaltpath:%_PDB% /pdbsourcepath:$src /nodefaultlib /Brepro"

sym=llvm-symbolizer
command -v "$sym" >/dev/null 2>&1 || sym=llvm-symbolizer-14

# build NAME OUT TARGET SRC "LINKFLAGS"
build() {
	name=$1 out=$2 target=$3 file=$4 extra=$5
	clang --target="$target" $cflags -c "$file" -o "$tmp/$name.obj"
	# lld-link writes the .pdb next to /pdb: and the import library next to /out:.
	(cd "$tmp" && lld-link $lflags /pdb:"$name.pdb" /out:"$out" $extra "$name.obj")
	cp "$tmp/$out" "$tmp/$name.pdb" "$here/"
}

build x64dll x64dll.dll x86_64-pc-windows-msvc x64dll.c \
	"/dll /machine:x64 /entry:DllMain /export:ForwardedSleep=kernel32.Sleep /export:Helper,@20,NONAME /export:HelperAlias=Helper"
build x86dll x86dll.dll i686-pc-windows-msvc x86dll.c \
	"/dll /machine:x86 /safeseh:no /entry:DllMain@12"
build driver driver.sys x86_64-pc-windows-msvc driver.c \
	"/driver /subsystem:native /machine:x64 /entry:DriverEntry"
cflags="$cflags -fno-exceptions -fno-rtti"
build cppdll cppdll.dll x86_64-pc-windows-msvc cppdll.cpp \
	"/dll /machine:x64 /entry:DllMain"

# golden IMAGE: llvm-symbolizer answers for every byte of .text, the bytes
# just past it and a few addresses in other sections, as JSON lines.
golden() {
	img=$1 base=${1%.*}
	: >"$tmp/addrs"
	llvm-readobj --sections "$img" | awk '
		/^ *Name: / { name = $2 }
		/^ *VirtualSize: / { size = $2 }
		/^ *VirtualAddress: / { print name, $2, size }
	' | while read -r name va size; do
		if [ "$name" = .text ]; then
			a=$((va))
			while [ "$a" -lt $((va + size + 16)) ]; do
				printf '0x%x\n' "$a" >>"$tmp/addrs"
				a=$((a + 1))
			done
		else
			printf '0x%x\n' $((va)) >>"$tmp/addrs"
		fi
	done
	"$sym" --obj="$img" --relative-address --output-style=GNU --print-address --functions=linkage --no-demangle --no-inlines <"$tmp/addrs" >"$base.symbolizer.txt"
	llvm-pdbutil dump -publics -symbols "$base.pdb" >"$base.pdbutil.txt"
	llvm-readobj --coff-exports --coff-debug-directory "$img" >"$base.exports.txt"
}

for img in x64dll.dll x86dll.dll driver.sys cppdll.dll; do
	golden "$img"
done
ls -l *.dll *.sys *.pdb
