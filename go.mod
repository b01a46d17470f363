module github.com/multimeter-fw/multimeter

go 1.26
