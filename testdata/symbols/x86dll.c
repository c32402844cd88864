// x86dll.c: a freestanding 32-bit x86 DLL with __cdecl, __stdcall and
// __fastcall functions, so the PDB holds 32-bit decorated names
// (_f, _f@8, @f@8). Built by build.sh.

static int total;

static __attribute__((noinline)) int clamp(int v, int lo, int hi)
{
	if (v < lo) {
		return lo;
	}
	if (v > hi) {
		return hi;
	}
	return v;
}

__declspec(dllexport) int __cdecl CdeclAdd(int a, int b)
{
	return a + b;
}

__declspec(dllexport) int __stdcall StdcallMul(int a, int b)
{
	total += a;
	return a * b;
}

__declspec(dllexport) int __fastcall FastClamp(int v, int hi)
{
	return clamp(v, 0, hi);
}

int __stdcall Accumulate(int n)
{
	int s = 0;
	for (int i = 0; i < n; i++) {
		s = CdeclAdd(s, StdcallMul(i, 3));
		s = FastClamp(s, 100000);
	}
	return s;
}

int __stdcall DllMain(void *inst, unsigned long reason, void *reserved)
{
	(void)inst;
	(void)reserved;
	return Accumulate((int)reason) + total >= 0;
}
