// SPDX-License-Identifier: Apache-2.0
// One look for every page's message line: an error (what could not be done, and why) in red, the
// rest in the palette's colour (markError, called after the line's text is set); and lines and
// fields that neither widen the window nor cut their hint (keepWithinWidth, setPlaceholder).
#pragma once

#include <QEvent>
#include <QHelpEvent>
#include <QLabel>
#include <QLineEdit>
#include <QToolTip>

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
// (the whole text stays selectable and is its tooltip, whatever set it).
class WholeTextTip : public QObject
{
public:
    using QObject::QObject;
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::ToolTip)
            if (auto *label = qobject_cast<QLabel *>(watched); label && label->toolTip().isEmpty() && !label->text().isEmpty()) {
                QToolTip::showText(static_cast<QHelpEvent *>(event)->globalPos(), label->text(), label);
                return true;
            }
        return QObject::eventFilter(watched, event);
    }
};

inline void keepWithinWidth(QLabel *label)
{
    label->setWordWrap(true);
    QSizePolicy policy = label->sizePolicy();
    policy.setHorizontalPolicy(QSizePolicy::Ignored);
    label->setSizePolicy(policy);
    label->setMinimumWidth(1);
    label->installEventFilter(new WholeTextTip(label));
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
}

} // namespace sluice
