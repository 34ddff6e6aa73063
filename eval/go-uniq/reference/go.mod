module guniq

go 1.21
