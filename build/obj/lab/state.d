build/obj/lab/state.o: src/lab/state.c src/common/util.h \
 src/lab/lab_int.h src/lab/lab.h
src/common/util.h:
src/lab/lab_int.h:
src/lab/lab.h:
