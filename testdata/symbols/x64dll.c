// x64dll.c: a freestanding x64 DLL for etwkit's PE/PDB tests.
// Built by build.sh; no CRT, no Windows SDK.

typedef unsigned long long u64;

static int counter;

// A static (file-local) function: appears only in the module's symbols
// (S_LPROC32), never in the public stream.
static __attribute__((noinline)) int square(int x)
{
	int y = x * x;
	counter++;
	return y;
}

static __attribute__((noinline)) u64 mix(u64 a, u64 b)
{
	u64 h = a ^ (b << 7);
	h *= 0x9E3779B97F4A7C15ull;
	h ^= h >> 29;
	return h;
}

__declspec(dllexport) int Add(int a, int b)
{
	return a + b;
}

__declspec(dllexport) int SumSquares(int n)
{
	int s = 0;
	for (int i = 0; i < n; i++) {
		s += square(i);
	}
	return s;
}

__declspec(dllexport) u64 Hash(const unsigned char *p, int n)
{
	u64 h = 14695981039346656037ull;
	for (int i = 0; i < n; i++) {
		h = mix(h, p[i]);
	}
	return h;
}

// Not exported, but global: it appears in the publics too.
int Helper(int v)
{
	if (v > 10) {
		return SumSquares(v - 10);
	}
	return Add(v, counter);
}

__declspec(dllexport) int ExportedData = 42;

int __stdcall DllMain(void *inst, unsigned long reason, void *reserved)
{
	(void)inst;
	(void)reserved;
	return Helper((int)reason) >= 0;
}
