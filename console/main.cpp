// SPDX-License-Identifier: Apache-2.0
// sluice-console: the operations console (a minimal window until its own issue fills it).
#include <QApplication>
#include <QLabel>

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QLabel label(QStringLiteral("Sluice console"));
    label.show();
    return QApplication::exec();
}
