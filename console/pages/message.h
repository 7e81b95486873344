// SPDX-License-Identifier: Apache-2.0
// One look for every page's message line: an error (what could not be done, and why) in red, the
// rest in the palette's colour. Called after the line's text is set.
#pragma once

#include <QLabel>

namespace sluice {

inline bool isErrorMessage(const QString &text)
{
    for (const char *prefix : {"Cannot ", "Could not ", "Not saved", "Not deleted", "The server refused", "Stopped: ", "The server at ", "The server's answer is not"})
        if (text.startsWith(QLatin1String(prefix)))
            return true;
    return false;
}

inline void markError(QLabel *label)
{
    label->setStyleSheet(isErrorMessage(label->text()) ? QStringLiteral("color: #b3261e") : QString());
}

} // namespace sluice
