// SPDX-License-Identifier: Apache-2.0
// Asking before a destructive action: a window-modal question (no nested event loop) whose default
// is Cancel; `onYes` runs only when Yes was clicked, `onNo` (if any) otherwise. The box deletes itself when closed; its object
// name lets tests find and answer it.
#pragma once

#include <QMessageBox>
#include <functional>

namespace sluice {

inline void confirmThen(QWidget *parent, const QString &objectName, const QString &title, const QString &question,
                        std::function<void()> onYes, std::function<void()> onNo = {})
{
    auto *box = new QMessageBox(QMessageBox::Question, title, question, QMessageBox::Yes | QMessageBox::Cancel, parent);
    box->setObjectName(objectName);
    box->setDefaultButton(QMessageBox::Cancel);
    box->setAttribute(Qt::WA_DeleteOnClose);
    QObject::connect(box, &QMessageBox::finished, parent, [box, onYes = std::move(onYes), onNo = std::move(onNo)](int) {
        if (box->clickedButton() == box->button(QMessageBox::Yes))
            onYes();
        else if (onNo)
            onNo();
    });
    box->open();
}

} // namespace sluice
