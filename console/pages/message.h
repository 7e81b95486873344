// SPDX-License-Identifier: Apache-2.0
// One look for every page's message line: an error (what could not be done, and why) in red, the
// rest in the palette's colour. Called after the line's text is set.
#pragma once

#include <QLabel>
#include <QLineEdit>

namespace sluice {

inline bool isErrorMessage(const QString &text)
{
    for (const char *prefix : {"Cannot ", "Could not ", "Not saved", "Not deleted", "The server refused", "Stopped: ", "The server at ", "The server's answer is not"})
        if (text.startsWith(QLatin1String(prefix)))
            return true;
    return false;
}

// A line of text from the server (ids of up to 128 characters, window keys, URLs) that must not
// widen the window: it wraps at spaces, and a word longer than the line is cut at its right edge
// (the whole text stays selectable and in the tooltip).
inline void keepWithinWidth(QLabel *label)
{
    label->setWordWrap(true);
    QSizePolicy policy = label->sizePolicy();
    policy.setHorizontalPolicy(QSizePolicy::Ignored);
    label->setSizePolicy(policy);
    label->setMinimumWidth(1);
}

// A field as wide as its placeholder at least: the hint is read whole, not cut.
inline void setPlaceholder(QLineEdit *edit, const QString &text)
{
    edit->setPlaceholderText(text);
    edit->setMinimumWidth(edit->fontMetrics().horizontalAdvance(text) + 24); // (the frame and text margins)
}

inline void markError(QLabel *label)
{
    label->setStyleSheet(isErrorMessage(label->text()) ? QStringLiteral("color: #b3261e") : QString());
    if (label->sizePolicy().horizontalPolicy() == QSizePolicy::Ignored)
        label->setToolTip(label->text()); // (keepWithinWidth: a long word may be cut)
}

} // namespace sluice
