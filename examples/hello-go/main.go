// A Go program with a C part (cgo): cross-built by xx-go with the target's C compiler.
package main

/*
#include <sys/utsname.h>

static const char *machine(void) {
	static struct utsname u;
	return uname(&u) == 0 ? u.machine : "unknown";
}
*/
import "C"

import "fmt"

func main() {
	fmt.Printf("hello-go (cgo) on %s\n", C.GoString(C.machine()))
}
