package main

import (
	"errors"
	"io"
)

// runRender is implemented by the render work (issue 4); placeholder until it lands.
func runRender(args []string, stdout, stderr io.Writer) error {
	return errors.New("render is not built yet")
}
