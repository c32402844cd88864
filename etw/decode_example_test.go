package etw_test

import (
	"encoding/binary"
	"fmt"

	"github.com/etwkit/etwkit/etw"
)

func ExampleDecode() {
	// A SystemConfig/Network record (hook 0x0B11) as the reader delivers it.
	p := binary.LittleEndian.AppendUint32(nil, 32)
	p = binary.LittleEndian.AppendUint32(p, 0xFFFFFFFF)
	p = binary.LittleEndian.AppendUint32(p, 65536)
	p = binary.LittleEndian.AppendUint32(p, 120)
	ev := &etw.Event{Header: etw.HeaderPerfInfo64, Hook: 0x0B11, Version: 2, PID: etw.NoPID, TID: etw.NoTID, Payload: p}
	d, err := etw.Decode(ev)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.FullName())
	for _, f := range d.Fields {
		fmt.Printf("%s=%s\n", f.Name, f)
	}
	// Output:
	// Windows Kernel/SystemConfig/Network
	// TcbTablePartitions=32
	// MaxHashTableSize=-1
	// MaxUserPort=65536
	// TcpTimedWaitDelay=120
}
