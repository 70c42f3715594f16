package runner

import (
	"errors"
	"fmt"
	"strings"
)

// SplitCommand splits a command line into words the way a POSIX shell does,
// without running one and without any expansion:
//
//   - blanks (space, tab, newline) separate words; runs of them count as one;
//   - 'single quotes' keep everything inside literally;
//   - "double quotes" keep everything literally except that a backslash
//     escapes $ ` " \ and newline (a backslash before any other character
//     stays, as in sh);
//   - outside quotes a backslash makes the next character literal, and a
//     backslash-newline is removed (a line continuation);
//   - quoted and unquoted parts next to each other form one word, and an
//     empty pair of quotes is an empty word.
//
// Nothing else is special: $VAR, ~, globs, # and the operators | ; & < > ( )
// are passed to the program as they are, since no shell interprets them
// (use /bin/sh -c for that). An unterminated quote, a trailing backslash or a
// line with no words is an error.
func SplitCommand(line string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false // true once the current word has begun, even if empty ("")
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(line) {
				return nil, fmt.Errorf("trailing backslash at offset %d", i)
			}
			i++
			if line[i] != '\n' {
				word.WriteByte(line[i])
				inWord = true
			}
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote starting at offset %d", i)
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			next, err := doubleQuoted(line, i, &word)
			if err != nil {
				return nil, err
			}
			i = next
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	if len(words) == 0 {
		return nil, errors.New("no command given")
	}
	return words, nil
}

// doubleQuoted copies the double-quoted string opening at line[open] into
// word and returns the index of its closing quote.
func doubleQuoted(line string, open int, word *strings.Builder) (int, error) {
	for i := open + 1; i < len(line); i++ {
		switch c := line[i]; c {
		case '"':
			return i, nil
		case '\\':
			if i+1 < len(line) && strings.IndexByte("$`\"\\\n", line[i+1]) >= 0 {
				i++
				if line[i] != '\n' {
					word.WriteByte(line[i])
				}
				continue
			}
			word.WriteByte(c)
		default:
			word.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("unterminated double quote starting at offset %d", open)
}
