all_checks = []
