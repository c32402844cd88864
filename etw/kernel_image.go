package etw

import "fmt"

// Image is a decoded Image Load (hook 0x030A, or 0x140A), UnLoad (0x1402),
// DCStart (0x1403) or DCEnd (0x1404) event, versions 0 to 3 in either
// pointer size. Fields that an older version lacks are zero.
type Image struct {
	// Opcode is 10 (Load), 2 (UnLoad), 3 (DCStart) or 4 (DCEnd).
	Opcode uint8
	// ImageBase and ImageSize (BaseAddress and ModuleSize in version 0).
	ImageBase uint64
	ImageSize uint64
	// ProcessID is the process the image is mapped in, 0 for kernel
	// modules (version 1 and later).
	ProcessID PID
	// ImageChecksum and TimeDateStamp come from the PE header (version 2
	// and later).
	ImageChecksum uint32
	TimeDateStamp uint32
	// SignatureLevel and SignatureType are set from version 3 on.
	SignatureLevel uint8
	SignatureType  uint8
	// DefaultBase is the preferred base from the PE header (version 2 and
	// later). It was seen holding two unrelated dwords for a SysWOW64 image.
	DefaultBase uint64
	// FileName is the image path as logged: an NT path such as
	// \Device\HarddiskVolume3\Windows\System32\ntdll.dll or
	// \SystemRoot\system32\ntoskrnl.exe.
	FileName string
}

// DecodeImage decodes an Image Load, UnLoad, DCStart or DCEnd event, logged
// as a kernel record or as a classic record with the Image class GUID.
func DecodeImage(ev *Event) (Image, error) {
	c, op := classOf(ev)
	if c == nil || c.group != int(GroupImage) || (op != opImageLoad && op != opImageUnload && op != opImageDCStart && op != opImageDCEnd) {
		return Image{}, errNotA("Image Load/UnLoad/DCStart/DCEnd", ev)
	}
	size := ev.PointerSize()
	if size == 0 {
		return Image{}, errNoPointerSize(ev)
	}
	var d decoder
	d.init(ev.Payload, size)
	im := Image{Opcode: op}
	switch v := ev.Version; {
	case v == 0:
		im.ImageBase = d.ptrf("BaseAddress")
		im.ImageSize = uint64(d.u32f("ModuleSize"))
		im.FileName = d.utf16zf("ImageFileName")
	case v == 1:
		im.ImageBase = d.ptrf("ImageBase")
		im.ImageSize = d.ptrf("ImageSize")
		im.ProcessID = PID(d.u32f("ProcessId"))
		im.FileName = d.utf16zf("FileName")
	default:
		im.ImageBase = d.ptrf("ImageBase")
		im.ImageSize = d.ptrf("ImageSize")
		im.ProcessID = PID(d.u32f("ProcessId"))
		im.ImageChecksum = d.u32f("ImageChecksum")
		im.TimeDateStamp = d.u32f("TimeDateStamp")
		if v >= 3 {
			im.SignatureLevel = d.u8f("SignatureLevel")
			im.SignatureType = d.u8f("SignatureType")
			d.skipf(2, "Reserved0")
		} else {
			d.skipf(4, "Reserved0")
		}
		im.DefaultBase = d.ptrf("DefaultBase")
		d.skipf(4, "Reserved1")
		d.skipf(4, "Reserved2")
		d.skipf(4, "Reserved3")
		d.skipf(4, "Reserved4")
		im.FileName = d.utf16zf("FileName")
	}
	if err := d.err(eventDesc(ev)); err != nil {
		return Image{}, err
	}
	return im, nil
}

func errNoPointerSize(ev *Event) error {
	return fmt.Errorf("%w: %s: header type %v has no pointer size", ErrUnknownEvent, eventDesc(ev), ev.Header)
}
