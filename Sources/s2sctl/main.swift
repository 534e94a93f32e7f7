print("s2sctl")
