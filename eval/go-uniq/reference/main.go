package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	count := flag.Bool("c", false, "prefix counts")
	fold := flag.Bool("i", false, "ignore case")
	flag.Parse()
	var order []string
	first := map[string]string{}
	n := map[string]int{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		key := line
		if *fold {
			key = strings.ToLower(line)
		}
		if _, ok := first[key]; !ok {
			first[key] = line
			order = append(order, key)
		}
		n[key]++
	}
	for _, k := range order {
		if *count {
			fmt.Printf("%d %s\n", n[k], first[k])
		} else {
			fmt.Println(first[k])
		}
	}
}
