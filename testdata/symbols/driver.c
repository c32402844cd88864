// driver.c: a freestanding x64 kernel-mode "driver" image for etwkit's
// tests (linked with /driver /subsystem:native). It is never loaded; it only
// has to look like a driver to the PE and PDB readers. Built by build.sh.

typedef long NTSTATUS;
typedef unsigned short WCHAR;

typedef struct _DRIVER_OBJECT {
	void *reserved[16];
	void (*DriverUnload)(struct _DRIVER_OBJECT *);
} DRIVER_OBJECT;

static unsigned int poolTag = 0x6b777445; // 'Etwk'

static __attribute__((noinline)) unsigned int RotateTag(unsigned int t, int n)
{
	return (t << n) | (t >> (32 - n));
}

static __attribute__((noinline)) int CountChars(const WCHAR *s)
{
	int n = 0;
	while (s != 0 && s[n] != 0) {
		n++;
	}
	return n;
}

static void EtwkUnload(DRIVER_OBJECT *drv)
{
	(void)drv;
	poolTag = RotateTag(poolTag, 8);
}

NTSTATUS DriverEntry(DRIVER_OBJECT *drv, const WCHAR *registryPath)
{
	int n = CountChars(registryPath);
	drv->DriverUnload = EtwkUnload;
	poolTag = RotateTag(poolTag, n & 7);
	return 0;
}
