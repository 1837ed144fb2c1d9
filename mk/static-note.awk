# mk/static-note.awk: prints a link's messages (mk/lab.mk) without glibc's note on getaddrinfo() in a program
# linked with -static: the note's line and the "in function ..." line the linker puts before it.
/in statically linked applications requires at runtime the shared libraries/ { held = ""; next }
{ if (held != "") print held; held = $0 }
END { if (held != "") print held }
