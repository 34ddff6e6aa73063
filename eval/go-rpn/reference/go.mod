module rpn

go 1.21
