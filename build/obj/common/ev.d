build/obj/common/ev.o: src/common/ev.c src/common/ev.h src/common/util.h
src/common/ev.h:
src/common/util.h:
