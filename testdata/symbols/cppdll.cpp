// cppdll.cpp: a freestanding x64 C++ DLL whose PDB holds MSVC-decorated
// names (namespaces, classes, constructors, operators, overloads,
// templates) for pdb.Undecorate tests. Built by build.sh.

// The compiler references _fltused when floating point is used; the CRT
// normally defines it.
extern "C" int _fltused = 0;

namespace etwkit {
namespace pool {

class Ledger {
public:
	Ledger();
	~Ledger();
	void Alloc(unsigned long long addr, unsigned long long size);
	bool Free(unsigned long long addr);
	unsigned long long Outstanding() const;
	static int Version();
	Ledger &operator+=(unsigned long long n);

private:
	unsigned long long bytes;
	int count;
};

Ledger::Ledger() : bytes(0), count(0) {}

Ledger::~Ledger() { bytes = 0; }

void Ledger::Alloc(unsigned long long addr, unsigned long long size)
{
	(void)addr;
	bytes += size;
	count++;
}

bool Ledger::Free(unsigned long long addr)
{
	if (count == 0) {
		return false;
	}
	(void)addr;
	count--;
	return true;
}

unsigned long long Ledger::Outstanding() const { return bytes; }

int Ledger::Version() { return 3; }

Ledger &Ledger::operator+=(unsigned long long n)
{
	bytes += n;
	return *this;
}

} // namespace pool
} // namespace etwkit

template <typename T> __attribute__((noinline)) T Max(T a, T b)
{
	return a > b ? a : b;
}

static __attribute__((noinline)) int Scale(int v) { return v * 3; }
static __attribute__((noinline)) double Scale(double v) { return v * 3.0; }

extern "C" __declspec(dllexport) int RunLedger(int n)
{
	etwkit::pool::Ledger l;
	for (int i = 0; i < n; i++) {
		l.Alloc((unsigned long long)i * 16, 16);
		l += 1;
	}
	l.Free(0);
	int a = Max<int>(Scale(n), etwkit::pool::Ledger::Version());
	double d = Max<double>(Scale(1.5), 2.0);
	return a + (int)d + (int)l.Outstanding();
}

extern "C" int __stdcall DllMain(void *inst, unsigned long reason, void *reserved)
{
	(void)inst;
	(void)reserved;
	return RunLedger((int)reason) >= 0;
}
