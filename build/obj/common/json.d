build/obj/common/json.o: src/common/json.c src/common/json.h
src/common/json.h:
