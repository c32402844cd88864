package etw

// wellKnownProviders names providers whose events a trace often holds
// without carrying their schema (facts: the providers' registered names).
var wellKnownProviders = map[GUID]string{
	MustParseGUID("e13c0d23-ccbc-4e12-931b-d9cc2eee27e4"): "Microsoft-Windows-DotNETRuntime",
	MustParseGUID("a669021c-c450-4609-a035-5af59af4df18"): "Microsoft-Windows-DotNETRuntimeRundown",
	MustParseGUID("763fd754-7086-4dfe-95eb-c01a46faf4ca"): "Microsoft-Windows-DotNETRuntimePrivate",
	MustParseGUID("edd08927-9cc4-4e65-b970-c2560fb5c289"): "Microsoft-Windows-Kernel-File",
	MustParseGUID("22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716"): "Microsoft-Windows-Kernel-Process",
	MustParseGUID("7dd42a49-5329-4832-8dfd-43d979153a88"): "Microsoft-Windows-Kernel-Network",
	MustParseGUID("70eb4f03-c1de-4f73-a051-33d13d5413bd"): "Microsoft-Windows-Kernel-Registry",
	MustParseGUID("331c3b3a-2005-44c2-ac5e-77220c37d6b4"): "Microsoft-Windows-Kernel-Power",
	MustParseGUID("b675ec37-bdb6-4648-bc92-f3fdc74d3ca2"): "Microsoft-Windows-Kernel-EventTracing",
	MustParseGUID("1c95126e-7eea-49a9-a3fe-a378b03ddb4d"): "Microsoft-Windows-DNS-Client",
	MustParseGUID("315a8872-923e-4ea2-9889-33cd4754bf64"): "Microsoft-Windows-Immersive-Shell",
	MustParseGUID("a0c1853b-5c40-4b15-8766-3cf1c58f985a"): "Microsoft-Windows-PowerShell",
	MustParseGUID("2e5dba47-a3d2-4d16-8ee0-6671ffdcd7b5"): "System.Threading.Tasks.TplEventSource",
	MustParseGUID("8e9f5090-2d75-4d03-8a81-e5afbf85daf1"): "System.Diagnostics.Eventing.FrameworkEventSource",
	SystemTraceControlGUID:                                "MSNT_SystemTrace",
}

// ProviderName returns the name of a well-known provider.
func ProviderName(g GUID) (string, bool) {
	n, ok := wellKnownProviders[g]
	return n, ok
}
